"""Run configuration: omegaconf structured configs built from the chosen parts' ``Config`` dataclasses.

A resolved config has one section per concern::

    run:       which parts, seed, device          (RunSection)
    train:     the meta-training/evaluation loop (TrainSection)
    benchmark: {<name>: <its Config>}
    backbone:  {<name>: <its Config>}
    learner:   {<name>: <its Config>}
    adversary: {<name>: <its Config>}             (only when one is chosen)
    generator: {<name>: <its Config>}             (only when one is chosen)

Values are layered, later wins: dataclass defaults < the benchmark's ``train_defaults`` < each part's ``presets`` for
the benchmark's task kind < YAML files < ``key=value`` overrides < explicit CLI selectors. Every key a user gives is
checked against the schema first, so an unknown key or a wrong type names the key, its part, and the valid keys;
then every value against its declared range (``ranges`` of the sections and the chosen parts, ``metareg.host.ranges``),
so a value no run can use is an error before a store is opened or a part is built.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Optional

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from metareg.errors import ConfigError, IncompatibleError
from metareg.host import families
from metareg.host.contracts.benchmark import neutral_settings
from metareg.host.ranges import Choice, Range, check_ranges
from metareg.host.registry import PartInfo, Registry
from metareg.run.clipping import FORMS as CLIP_FORMS
from metareg.run.compatibility import task_kind_problem



@dataclass
class RunSection:
    """Which parts make the run, and where it runs."""

    learner: str = "maml"
    benchmark: str = "sinusoid"
    backbone: Optional[str] = None  # None: the benchmark's default_backbone
    adversary: Optional[str] = None
    generator: Optional[str] = None
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N

    ranges: ClassVar[dict[str, Range]] = {"seed": Range.seed()}


#: Outer updates per logged entry of a run's curve, and how often the engine brings the loss to the host to check
#: for NaN (no sync in between); a checkpoint falls on one, so no partial sums are saved.
LOG_EVERY = 50


#: the values of ``train.target_draw``: target inputs drawn as episodes of the source episodes' size (each
#: normalised on its own, as a test episode is), or (``pool``, the engine's draw before the setting existed) one
#: batch of ``target_batch_size`` pool inputs normalised together
TARGET_DRAWS = ("episodes", "pool")
#: ``train`` settings added after runs were stored, with the value that does what the loop did before them
#: (``Part.added_settings`` for the loop): at that value, or in a run without an adversary (which never draws
#: target inputs), a setting is left out of the run's identity, so stored run ids stay valid
TRAIN_ADDED_SETTINGS = {"target_draw": "pool"}


@dataclass
class TrainSection:
    """The meta-training and evaluation protocol shared by every learner."""

    meta_iterations: int = 2000  # outer updates
    meta_batch_size: int = 32  # tasks per outer update
    outer_lr: float = 0.001  # Adam
    val_every: int = 250  # validate (and keep the best weights) every N outer updates; 0 disables
    val_tasks: int = 100
    test_tasks: int = 600  # the papers' protocol: mean and 95% CI over >= 600 test episodes
    eval_batch_size: int = 50  # tasks per batched evaluation step
    target_batch_size: int = 64  # unlabelled target inputs per outer update (adversaries only)
    target_draw: str = "episodes"  # episodes | pool: how the adversary's target inputs are drawn (Run._adversary_loss)
    grad_clip: str = "none"  # none | value | norm | task_value: how the outer gradient is clipped (run/clipping.py)
    grad_clip_max: float = 10.0  # the bound: per element (value, task_value) or of the global L2 norm (norm)
    task_chunk: Any = "auto"  # auto | N: tasks per backward pass (memory, not results: metareg.run.chunking)
    memory_budget: Any = "auto"  # auto | MiB: what task_chunk=auto keeps a meta-step's peak within
    chunk_threads: Any = "auto"  # auto | N: chunks backpropagated side by side on a CPU (metareg.run.thread_choice)
    checkpoint_every: int = 500  # save a resumable checkpoint every N outer updates (a multiple of 50); 0: never

    ranges: ClassVar[dict[str, Range]] = {
        "meta_iterations": Range.at_least(1), "meta_batch_size": Range.at_least(1), "outer_lr": Range.above(0),
        "val_every": Range.at_least(0), "val_tasks": Range.at_least(1), "test_tasks": Range.at_least(1),
        "eval_batch_size": Range.at_least(1), "target_batch_size": Range.at_least(1),
        "target_draw": Choice(*TARGET_DRAWS), "grad_clip": Choice(*CLIP_FORMS), "grad_clip_max": Range.above(0),
        "chunk_threads": Range.at_least(1).multiple_of(1).allowing("auto"),
        "checkpoint_every": Range.at_least(0).multiple_of(LOG_EVERY).because(
            f"a checkpoint falls on a logged entry (every {LOG_EVERY} outer updates); 0 never checkpoints"),
        "task_chunk": Range.at_least(1).multiple_of(1).allowing("auto"),
        "memory_budget": Range.above(0).allowing("auto").because("a size in MiB, e.g. 8000"),
    }


Setting = tuple[str, Any]


def parse_overrides(items: Iterable[str]) -> list[Setting]:
    """``["a.b=1", "c=x"]`` -> ``[("a.b", 1), ("c", "x")]`` with YAML value parsing (omegaconf's dotlist rules)."""
    settings: list[Setting] = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. learner.maml.inner_lr=0.4)")
        key = item.split("=", 1)[0].strip()
        try:
            parsed = OmegaConf.to_container(OmegaConf.from_dotlist([item]))
        except OmegaConfBaseException as exc:
            raise ConfigError(f"override {item!r} cannot be parsed: {exc}") from None
        settings.append((key, _get_path(parsed, key)))
    return spread_sections(settings)


def load_yaml(path: str | Path) -> list[Setting]:
    """The leaf settings of a YAML config file, as dotted keys."""
    path = Path(path)
    check_regular_file(path, "config file", "give the path of a YAML file")
    return _flatten(read_mapping(path, "config file", "hold a mapping of sections (run, train, learner, ...)"))


def check_regular_file(path: Path, what: str, fix: str) -> None:
    """``path`` is a regular file, or a ``ConfigError`` saying what it is instead, and ``fix``: a folder or a device
    (``/dev/null``) is there, so "does not exist" would send the user looking for the wrong mistake."""
    if path.is_file():
        return
    if not path.exists():
        problem = "does not exist"
    elif path.is_dir():
        problem = "is a folder, not a file"
    else:
        kind = ("a character device" if path.is_char_device() else "a block device" if path.is_block_device()
                else "a named pipe" if path.is_fifo() else "a socket" if path.is_socket() else "not a file")
        problem = f"is not a regular file ({kind})"
    raise ConfigError(f"{what} {str(path)!r} {problem}; {fix}")


def read_mapping(path: str | Path, what: str, expected: str) -> dict:
    """A YAML file's top-level mapping; errors name the file as ``what`` (``"suite file"``) and say it must
    ``expected`` (``"be a mapping with keys ..."``)."""
    try:
        data = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as exc:
        raise ConfigError(f"{what} {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {str(path)!r} must {expected}")
    return data


def _flatten(data: dict, prefix: str = "") -> list[Setting]:
    out: list[Setting] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, dotted + "."))
        else:
            out.append((dotted, value))
    return out


def _get_path(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


@dataclass(frozen=True)
class Selection:
    """The parts a run is made of, looked up in the registry."""

    benchmark: PartInfo
    backbone: PartInfo
    learner: PartInfo
    adversary: PartInfo | None
    generator: PartInfo | None

    def items(self) -> list[tuple[str, PartInfo]]:
        return [(s, getattr(self, s)) for s in families.NAMES if getattr(self, s) is not None]

    def parts(self) -> dict[str, str | None]:
        """Each family's part name (``None`` for an optional family left out): what the store and the board key on."""
        return {s: (getattr(self, s).name if getattr(self, s) else None) for s in families.NAMES}


def resolve(
    registry: Registry,
    settings: Iterable[Setting] = (),
    selectors: dict[str, Any] | None = None,
) -> tuple[DictConfig, Selection]:
    """The full, validated config of one run and the parts it selects.

    ``settings`` are dotted (key, value) pairs from YAML files and overrides, in order; ``selectors`` are the CLI's
    explicit choices (``learner``, ``benchmark``, ``seed``, ...) and win over both.
    """
    settings = spread_sections(settings)
    run_values = {k.split(".", 1)[1]: v for k, v in settings if k.startswith("run.")}
    run_values.update({k: v for k, v in (selectors or {}).items() if v is not None})
    run = _structured("run", RunSection, run_values)
    # "none" on the command line means no part, as in `--adversary none`
    for section in families.OPTIONAL:
        if isinstance(run[section], str) and run[section].lower() == "none":
            run[section] = None
    benchmark = registry.get("benchmark", run.benchmark)
    if run.backbone is None:
        run.backbone = benchmark.cls.default_backbone
    selection = Selection(
        benchmark=benchmark,
        backbone=registry.get("backbone", run.backbone),
        learner=registry.get("learner", run.learner),
        adversary=registry.get("adversary", run.adversary) if run.adversary else None,
        generator=registry.get("generator", run.generator) if run.generator else None,
    )
    kind = benchmark.cls.task_kind  # the registry's contract check admits only classification or regression
    problem = task_kind_problem(run.learner, selection.learner.cls.task_kinds, run.benchmark, kind)
    if problem:
        raise IncompatibleError(problem)

    cfg = OmegaConf.create({"run": run, "train": OmegaConf.structured(TrainSection)})
    for section, info in selection.items():
        cfg[section] = {info.name: OmegaConf.structured(info.cls.Config)}
    OmegaConf.set_struct(cfg, True)

    layered: list[tuple[str, Setting]] = [("benchmark train_defaults", (f"train.{k}", v))
                                          for k, v in benchmark.cls.train_defaults.items()]
    for section, info in selection.items():
        source = f"{section} {info.name!r} preset"
        layered += [(source, s) for s in _preset_settings(cfg, selection, section, info, kind)]
    layered += [("user", s) for s in settings if not s[0].startswith("run.")]
    for source, (key, value) in layered:
        _check_key(cfg, key, selection, source)
        if _is_section(cfg, key):
            _check_section_value(cfg, key, value)
            continue  # an empty mapping: nothing to set (a non-empty one was spread into its keys)
        _check_single_value(cfg, key, value, selection)
        try:
            OmegaConf.update(cfg, key, value, merge=True)
        except OmegaConfBaseException:
            expected = _expected_type(cfg, key)
            raise ConfigError(
                f"config key {key!r}{_owner(key, selection)}: value {value!r} is not a valid {expected}"
            ) from None
    check_config_ranges(cfg, selection)
    OmegaConf.set_readonly(cfg, True)
    return cfg, selection


def check_config_ranges(cfg: DictConfig, selection: Selection) -> None:
    """Every declared range (the run and train sections', each chosen part's ``ranges``) against the layered
    values, then each part's ``check_settings``: a ``ConfigError`` naming the key and the fix, before a store is
    opened or a part built."""
    check_ranges(RunSection.ranges, cfg.run, "run")
    check_ranges(TrainSection.ranges, cfg.train, "train")
    for section, info in selection.items():
        check_ranges(info.cls.ranges, cfg[section][info.name], f"{section}.{info.name}")
    for section, info in selection.items():  # the rules that tie a part's settings together, each value now valid
        check = getattr(info.cls, "check_settings", None)
        if callable(check):
            check(cfg[section][info.name])


def _preset_settings(cfg: DictConfig, selection: Selection, section: str, info: PartInfo, kind: str) -> list[Setting]:
    """A part's preset for ``kind`` as full keys.

    A plain key is the part's own setting (``inner_lr`` -> ``learner.cavia.inner_lr``). A dotted key reaches another
    section, because a method's reference settings are not all its own: ``train.grad_clip`` sets the loop's
    setting, and ``backbone.init`` the run's chosen backbone's ``init`` (whichever backbone that is), applied only
    when that part has such a setting, since a third-party backbone need not. The layering order (benchmark,
    backbone, learner, adversary, generator) lets a learner's preset override a backbone's own.
    """
    out: list[Setting] = []
    for key, value in info.cls.presets.get(kind, {}).items():
        if "." not in key:
            out.append((f"{section}.{info.name}.{key}", value))
            continue
        target, leaf = key.split(".", 1)
        if target not in families.NAMES:
            out.append((key, value))
            continue
        chosen = getattr(selection, target)
        if chosen is not None and leaf in cfg[target][chosen.name]:
            out.append((f"{target}.{chosen.name}.{leaf}", value))
    return out


def _structured(section: str, schema: type, values: dict) -> DictConfig:
    node = OmegaConf.structured(schema)
    OmegaConf.set_struct(node, True)
    valid = [f.name for f in dataclasses.fields(schema)]
    for key, value in values.items():
        if key.split(".")[0] in valid and "." in key:
            head = key.split(".")[0]
            raise ConfigError(_not_a_section(f"{section}.{key}", f"{section}.{head}", _field_type(schema, head)))
        if key not in valid:
            raise ConfigError(_unknown_key_message(f"{section}.{key}", key, valid, f" of the {section} section"))
        check_ascii_number(f"{section}.{key}", value, _field_type(schema, key))
        try:
            node[key] = value
        except OmegaConfBaseException:
            raise ConfigError(
                f"config key '{section}.{key}': value {value!r} is not a valid {_field_type(schema, key)}"
            ) from None
    return node


def _check_key(cfg: DictConfig, key: str, selection: Selection, source: str) -> None:
    parts = key.split(".")
    section = parts[0]
    if section not in cfg:
        valid = list(cfg.keys())
        raise ConfigError(_unknown_key_message(key, section, valid, " (top-level section)"))
    if section in families.NAMES:
        chosen = getattr(selection, section)
        if len(parts) < 3:
            raise ConfigError(
                f"config key {key!r} must name a setting of a part, e.g. '{section}.<name>.<setting>=value'"
            )
        if chosen is None or parts[1] != chosen.name:
            now = f"the run's {section} is {chosen.name!r}" if chosen else f"the run has no {section}"
            raise ConfigError(f"config key {key!r} is for {section} {parts[1]!r}, but {now}")
    node = cfg
    for depth, part in enumerate(parts[:-1]):
        node = node[part]
        if not isinstance(node, DictConfig):  # a setting's value, walked into as if it were a section
            prefix = ".".join(parts[:depth + 1])
            raise ConfigError(_not_a_section(key, prefix, _expected_type(cfg, prefix)))
    leaf = parts[-1]
    if leaf not in node:
        valid = list(node.keys())
        owner = _owner(key, selection) or f" of the {section} section"
        origin = "" if source == "user" else f" (set by the {source}: a plugin bug)"
        raise ConfigError(_unknown_key_message(key, leaf, valid, owner) + origin)


def spread_sections(settings: Iterable[Setting]) -> list[Setting]:
    """Settings with a mapping given to a section or a part spread into its keys: ``("train", {"meta_iterations":
    5})`` -> ``("train.meta_iterations", 5)``, as a YAML file's are, so every key is checked on its own.

    Only the levels that are always sections (``run``, ``train``, ``learner``, ``learner.maml``) are spread: below
    them a mapping is a setting's value (a part may declare a ``dict`` setting), which omegaconf checks by type.
    """
    out: list[Setting] = []
    for key, value in settings:
        parts = key.split(".")
        depth = 2 if parts[0] in families.NAMES else 1
        if isinstance(value, dict) and value and len(parts) <= depth:
            out.extend(spread_sections((f"{key}.{k}", v) for k, v in value.items()))
        else:
            out.append((key, value))
    return out


def _is_section(cfg: DictConfig, key: str) -> bool:
    """Whether ``key`` names a section or a part's settings (a mapping of keys) rather than one setting."""
    node = OmegaConf.select(cfg, key)
    return isinstance(node, DictConfig) and dataclasses.is_dataclass(OmegaConf.get_type(node))


def _check_section_value(cfg: DictConfig, key: str, value: Any) -> None:
    """A section given one value (``train=5``, YAML's ``train: [1, 2]``) is an error naming the keys it holds."""
    if isinstance(value, dict):
        return
    valid = list(OmegaConf.select(cfg, key).keys())
    raise ConfigError(
        f"config key {key!r} is a section, not a setting, so it cannot be {value!r}: set one of its keys, e.g. "
        f"{key}.{valid[0]}=VALUE (valid keys: {', '.join(valid)})"
    )


def _check_single_value(cfg: DictConfig, key: str, value: Any, selection: Selection) -> None:
    """What omegaconf would take but the run could not use, caught while the key can still be named: a mapping or
    list given to a setting typed ``Any`` whose value is a single one (``train.task_chunk``, met only once training
    started), and a number in another script's digits (``'٣'``), which omegaconf reads as 3."""
    expected = _expected_type(cfg, key)
    check_ascii_number(key, value, expected, _owner(key, selection))
    if not isinstance(value, (dict, list)) or expected != "Any":
        return
    current = OmegaConf.select(cfg, key)
    if current is None or isinstance(current, (DictConfig, ListConfig)):  # it may hold a mapping or a list
        return
    kind = "mapping" if isinstance(value, dict) else "list"
    raise ConfigError(f"config key {key!r}{_owner(key, selection)}: value {value!r} is a {kind}, but the setting "
                      f"takes one value (its default is {current!r}); write {key}=VALUE")


def check_ascii_number(key: str, value: Any, expected: str, owner: str = "") -> None:
    """A number setting given as text that is not ASCII (``run.seed=٣``) is an error: omegaconf (and ``int()``)
    read other scripts' digits as numbers, so a seed or a count would be taken from characters no one meant as one."""
    if isinstance(value, str) and not value.isascii() and expected.replace("Optional[", "").rstrip("]") in (
            "int", "float"):
        raise ConfigError(f"config key {key!r}{owner}: value {value!r} is not a valid {expected}; write the number "
                          f"in ASCII digits (0-9)")


def _not_a_section(key: str, prefix: str, kind: str) -> str:
    """The message for a key that walks into a setting (``learner.maml.inner_lr.x``, or YAML's mapping under a
    setting): ``prefix`` is the setting, ``kind`` its type."""
    return (f"config key {key!r}: {prefix!r} is a setting that takes one {kind} value, not a section with keys; "
            f"write {prefix}=VALUE")


def _unknown_key_message(key: str, leaf: str, valid: list[str], owner: str) -> str:
    close = difflib.get_close_matches(leaf, valid, n=2, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown config key {key!r}{owner}{hint} valid keys: {', '.join(valid)}"


def _owner(key: str, selection: Selection) -> str:
    section = key.split(".")[0]
    info = getattr(selection, section, None) if section in families.NAMES else None
    return f" of {section} {info.name!r}" if info else ""


def _expected_type(cfg: DictConfig, key: str) -> str:
    if "." not in key:
        return "mapping of settings"
    parent_key, leaf = key.rsplit(".", 1)
    parent = OmegaConf.select(cfg, parent_key)
    schema = OmegaConf.get_type(parent)
    return _field_type(schema, leaf) if dataclasses.is_dataclass(schema) else "value"


def _field_type(schema: type, name: str) -> str:
    for f in dataclasses.fields(schema):
        if f.name == name:
            t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            return str(t).replace("typing.", "")
    return "value"


def to_container(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


#: settings that decide how a run computes, not what: left out of its identity. ``train.task_chunk`` changes only
#: the order of float sums (``tests/run/test_chunking.py``), and ``auto`` resolves it from the machine's free memory,
#: so with them a run's identity would depend on what else the machine was doing; ``chunk_threads`` changes the
#: order of float sums inside ops in the same way; checkpoints change nothing (``tests/run/test_checkpoints.py``).
EXECUTION_ONLY = (("train", "task_chunk"), ("train", "memory_budget"), ("train", "checkpoint_every"),
                  ("train", "chunk_threads"))


def config_hash(cfg: DictConfig, selection: Selection) -> str:
    """The run's identity, the one place it is computed: a hash of its resolved, sorted config (less
    ``EXECUTION_ONLY``, and with ``run.device`` read as ``auto``) and the versions of the plugins that built it.

    Where a run executes (``--device cpu``, which GPU a worker got) does not change what it is, so a grid resumed on
    another machine, or with another ``--device``, finds the runs it already has, and a run made through
    ``Run.execute`` on ``cpu`` is the grid's cell. The device is read as ``auto`` rather than dropped so that the
    ids of runs stored before this rule stay as they were. The stored config keeps the device that was asked for,
    and the row's ``device`` column the one that was used.
    """
    return payload_hash(identity(cfg, selection))


def identity(cfg: DictConfig, selection: Selection) -> dict:
    """What ``config_hash`` hashes: the config less ``EXECUTION_ONLY`` (the device read as ``auto``), less the
    benchmark's domain settings at their defaults, every part's ``added_settings`` at theirs (``neutral_settings``,
    so declaring them kept every id) and ``TRAIN_ADDED_SETTINGS`` at theirs or without an adversary, the plugin
    versions, and the benchmark's ``data_identity`` where it has one. A grid's seeds of one combination differ only
    in ``config.run.seed`` here, so planning builds this once per combination (``metareg.grid.seeds``)."""
    config = to_container(cfg)
    for section, key in EXECUTION_ONLY:
        config.get(section, {}).pop(key, None)
    if "device" in config.get("run", {}):
        config["run"]["device"] = "auto"
    run = config.get("run", {})
    for family, info in selection.items():  # a setting at its neutral value: what ran before it existed
        section = config.get(family, {}).get(run.get(family))
        neutral = neutral_settings(info.cls) if family == "benchmark" else getattr(info.cls, "added_settings", {})
        for key, default in neutral.items():
            if isinstance(section, dict) and key in section and section[key] == default:
                del section[key]
    train = config.get("train", {})
    for key, default in TRAIN_ADDED_SETTINGS.items():
        if key in train and (train[key] == default or run.get("adversary") is None):
            del train[key]
    payload = {
        "config": config,
        "versions": {s: f"{i.distribution}=={i.version}" for s, i in selection.items()},
    }
    identify = getattr(selection.benchmark.cls, "data_identity", None)
    data = identify(_benchmark_config(cfg, selection)) if callable(identify) else ""
    if data:  # only then, so the ids of benchmarks whose data is their config stay as they were
        payload["data"] = data
    return payload


def payload_hash(payload: dict) -> str:
    """The run id of an ``identity`` payload: the first 16 hex digits of the SHA-256 of its sorted JSON."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _benchmark_config(cfg: DictConfig, selection: Selection) -> Any:
    """The benchmark's ``Config`` instance, also from a config rebuilt without its schema (a stored config)."""
    conf = part_config(cfg, "benchmark")
    return selection.benchmark.cls.Config(**conf) if isinstance(conf, dict) else conf


def part_config(cfg: DictConfig, section: str) -> Any:
    """The chosen part's config section as its dataclass instance (what the part's constructor receives)."""
    name = cfg.run[section]
    return OmegaConf.to_object(cfg[section][name])
