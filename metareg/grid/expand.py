"""Grids: selector lists and suite blocks expanded into the cells a runner runs.

A leaderboard is many runs, so the unit a user names is a *block*: a list of values per axis (benchmark, learner,
backbone, adversary, generator, seed) and the settings that apply to it; the runner runs the product. Expanding a
block resolves every cell's config up front, so a typo in any cell is an error before anything runs, and a
combination the parts cannot make (a classification-only learner on a regression benchmark) becomes a stated skip
rather than a crash. A setting that names a part (``learner.maml.inner_lr``) applies to the cells that use that part
and is an error only if no cell of the grid does. A cell's identity is its config hash; two blocks that produce the
same config give one cell.
"""
from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from omegaconf import DictConfig

from metareg.errors import ConfigError, IncompatibleError
from metareg.host import families
from metareg.host.registry import Registry
from metareg.grid.seeds import SharedSeeds, shareable
from metareg.run.config import Selection, Setting, resolve

#: every axis a block may list: the part axes (``families.GRID_ORDER``) and the seeds
AXES = families.GRID_ORDER + ("seeds",)


#: what a selector's "no value given" error shows as an example, by axis (another axis gets no example)
EXAMPLES = {"learner": "maml,protonet", "benchmark": "sinusoid,digits", "backbone": "mlp,conv4",
            "adversary": "none,dann", "generator": "none,mtgan", "format": "md,html"}


def parse_list(value: Any, axis: str, where: str | None = None) -> tuple[str, ...]:
    """``"maml, protonet"`` or ``["maml", "protonet"]`` -> ``("maml", "protonet")``, a name given twice kept once
    (in the order first given): each name is a part of the grid, and the product is resolved cell by cell.

    ``where`` names the list in errors (default ``--AXIS``, the command line's option; a suite passes its file and
    block), so an empty ``learner: []`` in a suite blames the suite, not an option the user never typed. A mapping
    or a nested list is an error here: made into a string it would be looked up as a part called ``{'a': 1}``.
    """
    where = where or f"--{axis}"
    items = value if isinstance(value, (list, tuple)) else [] if value is None else [value]
    if axis in families.OPTIONAL:  # YAML's null in an adversary list means no adversary, as ``none`` does
        items = ["none" if item is None else item for item in items]
    for item in items:
        if item is None or isinstance(item, (dict, list, tuple)):
            what = "null is" if item is None else f"{item!r} is a {'mapping' if isinstance(item, dict) else 'list'},"
            raise ConfigError(f"{where}: {what} not a name; give names, separated by commas" + _example(axis))
    out = tuple(dict.fromkeys(v.strip() for item in items for v in str(item).split(",") if v.strip()))
    if not out:
        raise ConfigError(f"{where}: no value given; name one or more, separated by commas" + _example(axis))
    return out


def check_keys(data: dict, valid: tuple[str, ...], where: str) -> None:
    """A ``ConfigError`` naming the first key of ``data`` not in ``valid``, with the closest valid one."""
    for key in data:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint} valid keys: {', '.join(valid)}")


def _example(axis: str) -> str:
    return f" (e.g. {EXAMPLES[axis]})" if axis in EXAMPLES else ""


#: ASCII digits only: ``\d`` and ``int()`` also take other scripts' digits (``'٣'`` is 3), which no one means as a seed
_RANGE = re.compile(r"^(-?[0-9]+)\s*-\s*(-?[0-9]+)$")
_INTEGER = re.compile(r"-?[0-9]+")
#: the most seeds one selector may expand to: more is a typo (``0-10000000``), not a grid anyone means to run
MAX_SEEDS = 10_000


def _seed(text: str, part: str) -> int:
    """One seed of ``part`` (a seed or a range), within what the store and torch can hold (``run.seed``'s range)."""
    from metareg.run.config import RunSection

    if not _INTEGER.fullmatch(text):
        hint = "use integers in ASCII digits (0-9), ranges and commas, e.g. 0-4 or 0,2,5"
        raise ConfigError(f"seeds: {part!r} is not a seed; {hint}")
    seed = int(text)
    valid = RunSection.ranges["seed"]
    if seed not in valid:
        raise ConfigError(f"seeds: {part!r} is out of range; a seed must be {valid} (0 to {2**63 - 1})")
    return seed


def parse_seeds(value: Any) -> tuple[int, ...]:
    """Seeds from ``3``, ``"0-4"``, ``"0,2,5"``, ``"0-2,7"`` or a YAML list of those; duplicates dropped, order kept."""
    items = value if isinstance(value, (list, tuple)) else [value]
    seeds: list[int] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            match = _RANGE.match(part)
            if not match:
                seeds.append(_seed(part, part))
                continue
            low, high = _seed(match.group(1), part), _seed(match.group(2), part)
            if high < low:
                raise ConfigError(f"seeds: range {part!r} runs backwards; write it low-high, e.g. 0-4")
            if high - low >= MAX_SEEDS:
                raise ConfigError(f"seeds: range {part!r} holds {high - low + 1} seeds, more than the {MAX_SEEDS} "
                                  f"one grid may run; name fewer, e.g. 0-4")
            seeds.extend(range(low, high + 1))
    if not seeds:
        raise ConfigError("seeds: no seed given; use e.g. 0-4 or 0,2,5")
    return tuple(dict.fromkeys(seeds))


@dataclass(frozen=True)
class Block:
    """One product of axes and the settings that apply to its cells.

    ``axes`` maps an axis to its values; an axis that is absent keeps the config's own choice (the run section's
    default, a config file's ``run.learner``). ``seeds`` is a tuple of ints.
    """

    axes: dict[str, tuple]
    settings: tuple[Setting, ...] = ()

    def with_axes(self, **replacements: tuple | None) -> "Block":
        axes = dict(self.axes)
        axes.update({k: v for k, v in replacements.items() if v is not None})
        return Block(axes, self.settings)


@dataclass(frozen=True)
class Cell:
    """What a worker needs to rebuild one run: its selectors and its settings (both plain, picklable values)."""

    selectors: tuple[tuple[str, Any], ...]
    settings: tuple[Setting, ...]

    def selector_dict(self) -> dict[str, Any]:
        return dict(self.selectors)


class PlannedCell:
    """A cell with its resolved config: the identity (``hash``) the store knows it by.

    ``cfg`` may be given as a function that makes it, called when it is first read: a seed's copy of its
    combination's config (``metareg.grid.seeds``), so that planning thousands of seeds copies no config up front;
    ``seed`` is then given too.
    """

    def __init__(self, index: int, cell: Cell, cfg: DictConfig | Callable[[], DictConfig], selection: Selection,
                 hash: str, seed: int | None = None):
        self.index, self.cell, self.selection, self.hash = index, cell, selection, hash
        self._cfg = cfg
        self._seed = seed

    @property
    def cfg(self) -> DictConfig:
        if not isinstance(self._cfg, DictConfig):
            self._cfg = self._cfg()
        return self._cfg

    @property
    def parts(self) -> dict[str, str | None]:
        return self.selection.parts()

    @property
    def seed(self) -> int:
        return int(self.cfg.run.seed) if self._seed is None else self._seed

    @property
    def label(self) -> str:
        return cell_label(self.parts, self.seed)


def cell_label(parts: dict[str, str | None], seed: int | None = None) -> str:
    """``maml on digits-shift + dann (seed 0)``: how progress lines and messages name a cell."""
    from metareg.run.config import RunSection

    learner = parts.get("learner") or RunSection.learner
    benchmark = parts.get("benchmark") or f"the default benchmark ({RunSection.benchmark})"
    text = f"{learner} on {benchmark}"
    for section in families.OPTIONAL:
        if parts.get(section):
            text += f" + {parts[section]}"
    return text if seed is None else f"{text} (seed {seed})"


@dataclass(frozen=True)
class Skip:
    """A combination the parts cannot make, and why."""

    label: str
    reason: str


@dataclass
class Plan:
    cells: list[PlannedCell] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def skip(self, label: str, reason: str) -> None:
        """Record a skipped combination once, however many seeds it had."""
        if Skip(label, reason) not in self.skipped:
            self.skipped.append(Skip(label, reason))


def expand(registry: Registry, blocks: Sequence[Block], settings: Iterable[Setting] = (),
           device: str | None = None) -> Plan:
    """Every cell of ``blocks`` (product of each block's axes, seeds outermost), resolved and deduplicated.

    ``settings`` (config files, ``key=value`` overrides) apply after each block's own; one that names a part no cell
    uses is an error (a typo), while a block's own may name any installed part (its axes may have been replaced
    from the command line). Unknown part names and bad keys raise ``MetaregError`` here, before anything runs;
    incompatible combinations become ``Skip``s.
    """
    if not blocks:  # else "every combination is incompatible" would follow, with no combination to name
        raise ConfigError("the grid is empty: it has no block of learners, benchmarks, ... to run; give selectors "
                          "(e.g. --learner maml) or a suite whose grid lists at least one block")
    plan = Plan()
    extra = tuple(settings)
    part_keys = {k for k, _ in extra if _names_part(k)}
    chosen: set[tuple[str, str]] = set()  # (section, part name) of every combination, skipped ones included
    seen: set[str] = set()
    probes: dict[str, bool | None] = {}
    for block in blocks:
        block_settings = block.settings + extra
        for key, _ in block.settings:  # a block's own setting may name a part another axis choice left out,
            if _names_part(key):        # but never one that does not exist
                registry.get(*key.split(".")[:2])
        seeds = block.axes.get("seeds") or (None,)
        values = [block.axes.get(axis) or (None,) for axis in families.GRID_ORDER]
        for axis, names in zip(families.GRID_ORDER, values):  # an unknown name fails before any cell is resolved
            for name in names:
                if name is not None and not (axis in families.OPTIONAL and str(name).lower() == "none"):
                    registry.get(axis, str(name))
        #: combination -> its config shared by its seeds and its cell's settings, or why it cannot make a run
        shared: dict[tuple, tuple[SharedSeeds, tuple[Setting, ...]] | str] = {}
        for seed, combo in itertools.product(seeds, itertools.product(*values)):
            selectors = dict(zip(families.GRID_ORDER, combo), seed=seed, device=device)
            selectors = {k: v for k, v in selectors.items() if v is not None}
            known = shared.get(combo) if shareable(seed) else None
            if isinstance(known, str):
                plan.skip(_selector_label(selectors), known)
                continue
            if known is not None and known[0].covers(seed):
                seeds_of, own = known
                digest = seeds_of.hash(seed)
                if digest not in seen:
                    seen.add(digest)
                    plan.cells.append(PlannedCell(len(plan.cells), Cell(tuple(sorted(selectors.items())), own),
                                                  seeds_of.config(seed), seeds_of.selection, digest, seed))
                continue
            chosen.update((k, str(v)) for k, v in selectors.items() if k in families.GRID_ORDER)
            try:
                cell, cfg, selection = _resolve_cell(registry, block_settings, selectors)
            except IncompatibleError as exc:
                plan.skip(_selector_label(selectors), str(exc))
                shared[combo] = str(exc)
                continue
            chosen.update((s, cfg.run[s]) for s in families.GRID_ORDER if cfg.run[s])
            reason = incompatibility(cfg, selection, probes)
            if reason:
                plan.skip(_selector_label(selectors), reason)
                shared[combo] = reason
                continue
            seeds_of = SharedSeeds(cfg, selection)
            shared.setdefault(combo, (seeds_of, cell.settings))
            digest = seeds_of.hash(int(cfg.run.seed))
            if digest in seen:
                continue
            seen.add(digest)
            plan.cells.append(PlannedCell(len(plan.cells), cell, cfg, selection, digest))
    for key in sorted(part_keys):
        section, name = key.split(".")[:2]
        if (section, name) not in chosen:
            names = sorted({n for s, n in chosen if s == section}) or ["none"]
            raise ConfigError(
                f"setting {key!r} applies to no cell: the grid's {section}s are {', '.join(names)}; "
                f"check the {section}'s name, or add {name!r} to the grid"
            )
    return plan


def incompatibility(cfg: DictConfig, selection: Selection, probes: dict[str, bool | None]) -> str | None:
    """Why the cell's parts cannot make a run, found before building it (None: they can).

    ``resolve`` has already matched learner and benchmark task kinds; this asks ``metareg.run.compatibility``'s other
    two rules, which the engine asks again when building: a context-conditioned learner on a backbone without
    context, and an adversary on a benchmark config without target-domain data (probed once per benchmark config,
    as the benchmark's constructor decides it).
    A benchmark that cannot be built as configured (glyph-world without the fonts it needs, a folder path that is
    not there) is not decided here: its cells are planned, and each fails with the constructor's own message
    when it runs, while the grid's other cells run and are stored.
    """
    from metareg.run.compatibility import context_problem, target_problem
    from metareg.run.config import part_config, to_container
    from metareg.errors import MetaregError
    from metareg.host.contracts.benchmark import has_target_domain

    problem = context_problem(selection, part_config(cfg, "learner"))
    if problem or selection.adversary is None:
        return problem
    key = f"{selection.benchmark.name}:{to_container(cfg.benchmark)}"
    if key not in probes:
        try:
            benchmark = selection.benchmark.cls(part_config(cfg, "benchmark"))
        except MetaregError:
            probes[key] = None  # unknown: the cell's run reports why the benchmark cannot be built
        else:
            probes[key] = has_target_domain(benchmark)
    return target_problem(selection, probes[key] is not False)


def _names_part(key: str) -> bool:
    parts = key.split(".")
    return parts[0] in families.NAMES and len(parts) >= 3


def _resolve_cell(registry: Registry, settings: tuple[Setting, ...],
                  selectors: dict[str, Any]) -> tuple[Cell, DictConfig, Selection]:
    """Resolve once without part settings to learn the cell's parts, then again with the settings for those parts."""
    general = tuple(s for s in settings if not _names_part(s[0]))
    cfg, _ = resolve(registry, general, selectors)
    own = tuple(s for s in settings if not _names_part(s[0]) or cfg.run[s[0].split(".")[0]] == s[0].split(".")[1])
    cfg, selection = resolve(registry, own, selectors)
    return Cell(tuple(sorted(selectors.items())), own), cfg, selection


def _selector_label(selectors: dict[str, Any]) -> str:
    parts = {k: (None if str(v).lower() == "none" else v) for k, v in selectors.items()}
    return cell_label(parts)


#: the benchmark a bare selector gets when it asks for an adversary or a generator, by what the learner handles:
#: both have a target domain (an adversary needs one; a generator is made for a shift)
SHIFT_DEFAULTS = {"classification": "digits-shift", "regression": "sinusoid-shift"}


def with_shift_default(registry: Registry, axes: dict[str, tuple]) -> tuple[list[dict[str, tuple]], str | None]:
    """Axes completed with a benchmark that can run what was asked, and the one line that says so.

    Why: with no ``--benchmark`` the run section's default is ``sinusoid``, which has no target domain, so
    ``metareg bench --learner maml --adversary dann`` (the project's headline) would have nothing to run. When an
    adversary or a generator is asked for and no benchmark, each learner gets ``SHIFT_DEFAULTS`` for the first task
    kind it handles, classification before regression. Otherwise the axes are returned as they are.
    """
    from metareg.run.config import RunSection

    wanted = [v for axis in families.OPTIONAL for v in axes.get(axis, ()) if str(v).lower() != "none"]
    if "benchmark" in axes or not wanted:
        return [axes], None
    by_benchmark: dict[str, list[str]] = {}
    for learner in axes.get("learner") or (RunSection.learner,):
        kinds = registry.get("learner", learner).cls.task_kinds
        kind = "classification" if "classification" in kinds else kinds[0]
        by_benchmark.setdefault(SHIFT_DEFAULTS[kind], []).append(learner)
    out = [{**axes, "learner": tuple(learners), "benchmark": (bench,)} for bench, learners in by_benchmark.items()]
    chosen = ", ".join(f"{bench} for {', '.join(learners)}" for bench, learners in by_benchmark.items())
    return out, (f"no --benchmark given and {', '.join(map(str, wanted))} needs a target domain: using {chosen} "
                 f"(--benchmark chooses another)")
