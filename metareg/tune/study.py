"""A study: ``trials`` configurations proposed by Optuna, each an ordinary run of the store, selected on the
validation metric alone, then the selected configuration and the untuned one re-run on every seed.

Why the store is the study's state, replayed, rather than an Optuna storage beside it: a trial *is* a run, and its
config hash is its identity, so the store already knows which trials finished and what they scored. A seeded
sampler asked in the same order and told the same values proposes the same configurations, so a study is resumed
by replaying it from the start: every trial the store has is told its stored value without running, and only the
missing ones run. A study killed at any moment (SIGKILL included) therefore ends, when run again, with exactly
``trials`` trials, none repeated, and a finished study run again does nothing new. Trials are proposed ``batch``
at a time (``--workers``), run side by side through the grid runner (and so on any of its executors), and told
together; the batch size is part of the study's identity, since it changes what the sampler knows when it proposes.

The value a trial is told is its best validation metric (the point the engine kept its weights at), read from the
run's history: the test metric is never read here (``tests/tune/test_selection.py`` fails if it reaches the
sampler or the selection). A proposal equal to an earlier trial's configuration is told that trial's value and
asked again, so the trials are distinct; a failed run is a failed trial (it counts, and is never selected).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

from metareg.errors import ConfigError, MetaregError
from metareg.grid.expand import Block, PlannedCell, expand
from metareg.host.search import Distribution
from metareg.toolkit.metrics import BY_KIND

SAMPLERS = ("tpe", "random")
#: the model-selection rules: ``source-val``, the source domain's validation episodes (what the engine validates on),
#: and ``target-val``, labelled target-domain validation episodes of the validation classes (an oracle: DomainBed's
#: "test-domain validation"), for a benchmark that declares ``val_domain`` (``metareg.VAL_DOMAINS``). A rule's
#: trials and tuned runs validate (and so keep their checkpoint) on its domain; the default rows stay untouched
SELECTIONS = ("source-val", "target-val")
#: the benchmark setting a rule's runs hold
SELECTION_DOMAIN = {"source-val": "source", "target-val": "target"}
#: proposals in a row that repeat an earlier configuration before the space is taken as exhausted
MAX_REPEATS = 50


@dataclass(frozen=True)
class StudySpec:
    """What a study is: the combination, its space, and how it is searched and selected."""

    axes: tuple[tuple[str, str], ...]  # the combination's parts: (family, name), no seeds
    settings: tuple[tuple[str, object], ...]  # its settings (a suite block's, config files', key=value), in order
    space: tuple[tuple[str, Distribution], ...]
    trials: int
    sampler: str = "tpe"
    select: str = "source-val"
    seed: int = 0  # the sampler's
    seeds: tuple[int, ...] = (0,)  # trials run on the first; the selected configuration on all
    batch: int = 1

    def identity(self) -> dict:
        """Everything that decides which configurations are proposed (not ``trials``: a longer study of the same
        identity proposes the shorter one's trials first, and finds them in the store)."""
        return {"axes": [list(a) for a in self.axes], "settings": [[k, v] for k, v in self.settings],
                "space": {k: str(d) for k, d in self.space}, "sampler": self.sampler, "select": self.select,
                "seed": self.seed, "trial_seed": self.seeds[0], "batch": self.batch}

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    def describe(self) -> dict:
        return {**self.identity(), "trials": self.trials, "seeds": list(self.seeds)}


@dataclass
class Trial:
    number: int
    params: dict
    cell: PlannedCell
    value: float | None = None
    state: str = "missing"  # done | failed | missing


@dataclass
class StudyOutcome:
    spec: StudySpec
    metric: str
    higher_is_better: bool
    trials: list[Trial] = field(default_factory=list)
    best: Trial | None = None
    tuned: list[PlannedCell] = field(default_factory=list)
    default: list[PlannedCell] = field(default_factory=list)


def block_for(spec: StudySpec, params: dict, seed: int, selected: bool = True) -> Block:
    """A cell of the study on ``seed`` with the searched ``params``; ``selected`` (a trial or a tuned run, not the
    default row) adds the selection rule's validation domain (``selection_settings``)."""
    return Block({**{family: (name,) for family, name in spec.axes}, "seeds": (seed,)},
                 tuple(spec.settings) + (selection_settings(spec) if selected else ())
                 + tuple(sorted(params.items())))


def selection_settings(spec: StudySpec) -> tuple:
    """The settings the selection rule adds to its runs: none for ``source-val`` (the engine's own validation),
    ``benchmark.<name>.val_domain=target`` for ``target-val``."""
    if SELECTION_DOMAIN[spec.select] == "source":
        return ()
    benchmark = dict(spec.axes).get("benchmark")
    if benchmark is None:
        raise ConfigError(f"--select {spec.select} needs the benchmark named (--benchmark, or the suite's "
                          f"benchmark axis), to set its val_domain")
    return ((f"benchmark.{benchmark}.val_domain", SELECTION_DOMAIN[spec.select]),)


def check_selection(registry, spec: StudySpec, device: str | None = None) -> None:
    """A ``target-val`` study's benchmark must declare ``val_domain`` and serve a target domain at its settings:
    one clear error before any trial runs."""
    if SELECTION_DOMAIN[spec.select] == "source":
        return
    cls = base_cell(registry, dataclasses.replace(spec, select="source-val"), device).selection.benchmark.cls
    config = getattr(cls, "Config", None)
    if config is None or "val_domain" not in {f.name for f in dataclasses.fields(config)}:
        raise ConfigError(f"--select {spec.select}: benchmark {cls.name!r} declares no labelled target validation "
                          f"split (a val_domain setting; digits-shift, glyph-world and folder do); use --select "
                          f"source-val")
    base_cell(registry, spec, device)  # its settings' own checks (glyph-world's script domains have no target)


def cells_of(registry, blocks: list[Block], device: str | None = None) -> list[PlannedCell]:
    plan = expand(registry, blocks, device=device)
    if plan.skipped:
        raise ConfigError("the tuned combination cannot be built: " + "; ".join(f"{s.label}: {s.reason}"
                                                                              for s in plan.skipped))
    return plan.cells


def metric_of(cell: PlannedCell) -> tuple[str, bool]:
    """The study's selection metric and its direction, from the combination's task kind; an error when the cell
    does not validate (there would be nothing to select on)."""
    metric = BY_KIND[cell.selection.benchmark.cls.task_kind]
    if not cell.cfg.train.val_every:
        raise ConfigError("metareg tune selects on validation episodes, but train.val_every=0 turns validation off: "
                          "give train.val_every a number of outer updates (e.g. train.val_every=100)")
    return metric.name, metric.higher_is_better


def base_cell(registry, spec: StudySpec, device: str | None = None) -> PlannedCell:
    """The combination's untuned cell on the trials' seed, validated as the selection rule says."""
    return cells_of(registry, [block_for(spec, {}, spec.seeds[0])], device)[0]


def validation_value(row, metric: str, higher_is_better: bool) -> float | None:
    """A finished run's best validation ``metric`` over its history (the point the engine kept); None when it
    logged none or did not finish. Only ``val_<metric>`` entries are read: never the test metrics."""
    if row is None or row.status != "done":
        return None
    values = [float(e[f"val_{metric}"]) for e in row.history or [] if e.get(f"val_{metric}") is not None]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return None
    return max(values) if higher_is_better else min(values)


def _sampler(spec: StudySpec):
    import optuna

    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant_liar is marked experimental
        return optuna.samplers.TPESampler(seed=spec.seed, constant_liar=spec.batch > 1)


def run_study(registry, store, spec: StudySpec, run_cells: Callable[[list[PlannedCell]], None],
              device: str | None = None) -> StudyOutcome:
    """Replay and complete the study: propose, run what the store lacks (``run_cells``, the grid runner), tell,
    select on validation, then run the selected and the default configuration on every seed."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    metric, higher = metric_of(base_cell(registry, spec, device))
    outcome = StudyOutcome(spec, metric, higher)
    study = optuna.create_study(direction="maximize" if higher else "minimize", sampler=_sampler(spec))
    distributions = {key: dist.to_optuna() for key, dist in spec.space}
    by_hash: dict[str, Trial] = {}
    while len(outcome.trials) < spec.trials:
        batch: list[tuple[object, Trial]] = []
        repeats = 0
        while len(batch) < min(spec.batch, spec.trials - len(outcome.trials)):
            asked = study.ask(distributions)
            params = {key: _plain(asked.params[key]) for key in distributions}
            [cell] = cells_of(registry, [block_for(spec, params, spec.seeds[0])], device)
            if cell.hash in by_hash or any(t.cell.hash == cell.hash for _, t in batch):
                earlier = by_hash.get(cell.hash)
                _tell(study, asked, earlier.value if earlier else None)
                repeats += 1
                if repeats > MAX_REPEATS:
                    raise ConfigError(f"the search space has fewer distinct configurations than --trials "
                                      f"{spec.trials}: {len(by_hash) + len(batch)} found; widen it or ask for fewer")
                continue
            batch.append((asked, Trial(len(outcome.trials) + len(batch), params, cell)))
        store.record_study_runs(spec.key, spec.describe(), [("trial", t.number, t.cell.hash, t.params)
                                                            for _, t in batch])
        _run_until_finished(store, [t.cell for _, t in batch], run_cells)
        for asked, trial in batch:
            row = store.standing(trial.cell.hash)
            trial.state = row.status if row is not None else "missing"
            trial.value = validation_value(row, metric, higher)
            _tell(study, asked, trial.value)
            by_hash[trial.cell.hash] = trial
            outcome.trials.append(trial)
    scored = [t for t in outcome.trials if t.value is not None]
    if not scored:
        raise MetaregError(f"every one of the {len(outcome.trials)} trials failed or logged no validation "
                           f"{metric}, so none can be selected; `metareg runs --status failed` shows why")
    best_value = (max if higher else min)(t.value for t in scored)
    outcome.best = next(t for t in scored if t.value == best_value)  # the earliest on a tie
    outcome.tuned = cells_of(registry, [block_for(spec, outcome.best.params, s) for s in spec.seeds], device)
    outcome.default = cells_of(registry, [block_for(spec, {}, s, selected=False) for s in spec.seeds], device)
    store.record_study_runs(spec.key, spec.describe(),
                            [("tuned", s, c.hash, outcome.best.params) for s, c in zip(spec.seeds, outcome.tuned)]
                            + [("default", s, c.hash, {}) for s, c in zip(spec.seeds, outcome.default)])
    _run_until_finished(store, outcome.tuned + outcome.default, run_cells)
    return outcome


def _tell(study, asked, value: float | None) -> None:
    from optuna.trial import TrialState

    if value is None:
        study.tell(asked, state=TrialState.FAIL)
    else:
        study.tell(asked, value)


def _plain(value):
    """Optuna's values as the config's types (numpy scalars would not hash or print the same)."""
    if hasattr(value, "item"):
        value = value.item()
    return value


def _run_until_finished(store, cells: list[PlannedCell], run_cells, poll: float = 5.0) -> None:
    """Run ``cells``; where another runner holds one (a second ``metareg tune`` of the same study), wait for it,
    so that every cell has a finished run before its value is read."""
    unique = list({c.hash: c for c in cells}.values())
    while True:
        run_cells(unique)
        waiting = [c for c in unique if store.standing(c.hash) is None]
        if not waiting:
            return
        time.sleep(poll)
