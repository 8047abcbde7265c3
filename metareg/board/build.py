"""The leaderboard's numbers, computed once from the store for every output format.

A *combination* is a run's config without its seed (and device): the runs of one combination over several seeds
are pooled into one row. Its estimate is the mean and Student-t 95% CI over all its test episodes, every seed
included, recovered exactly from each run's stored (mean, ci95, n). Pooling episodes treats them as independent,
which understates the spread between seeds; the per-seed count is shown beside it so a reader can judge.

Rows are grouped in *sections*, one per benchmark config (a benchmark with other settings is another section),
where the metric is comparable. Beside each row is its *baseline*: the same combination with no adversary and no
generator. Rows are ranked within their section by mean, in the metric's direction. With a suite, the suite's cells
decide the rows, and a cell with no finished run shows as missing instead of disappearing.

A row's *validation curve* (``Section.curves``, shown by ``metareg leaderboard --curves``) is its validation
metric at each outer update where every one of its finished seeds validated, averaged over those seeds, so a
reader sees whether the ranking had settled by the end of the budget.
"""
from __future__ import annotations

import hashlib
import json
import math
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from metareg.board.headroom import Headroom, headroom, role, without_default_domains, without_domains
from metareg.grid.paper import PaperValue
from metareg.host import families
from metareg.run.config import EXECUTION_ONLY, _flatten
from metareg.store.database import standing_run
from metareg.toolkit.metrics import HIGHER_IS_BETTER, PROBE, task_metric_name
from metareg.toolkit.stats import Estimate

#: metric name -> whether higher is better (the task metrics of ``metareg.toolkit.functional``)
#: the config paths that do not change what a combination is (how a run computed, e.g. ``train.task_chunk``,
#: which older runs do not record and ``auto`` resolves per run, is not what it is)
SEED_PATHS = (("run", "seed"), ("run", "device")) + EXECUTION_ONLY
#: and those that make a combination its baseline's variant
VARIANT_PATHS = SEED_PATHS + (("run", "adversary"), ("run", "generator"), ("adversary",), ("generator",))
#: the history key under which an adversary's ``domain_accuracy`` metric is logged during meta-training
DOMAIN_ACCURACY = "adversary_domain_accuracy"
#: the share of meta-training, at its end, over which a logged training metric is averaged for the board
TRAINING_TAIL = 0.25


def pool(estimates: Sequence[Estimate]) -> Estimate:
    """Mean and 95% CI of the union of several runs' test episodes, from each run's (mean, ci95, n).

    Each run's sample standard deviation is ``ci95 · sqrt(n) / t(0.975, n − 1)``; the pooled sum of squares is
    ``Σ (n_i − 1) s_i² + n_i (m_i − m)²``, exactly what the concatenated episodes would give.
    """
    from scipy.stats import t

    total = sum(e.n for e in estimates)
    if total == 0:
        raise ValueError("no episodes to pool")
    mean = math.fsum(e.n * e.mean for e in estimates) / total
    if total == 1:
        return Estimate(mean, None, 1)
    squares = 0.0
    for e in estimates:
        if e.n > 1 and e.ci95 is not None:
            sd = e.ci95 * math.sqrt(e.n) / float(t.ppf(0.975, e.n - 1))
            squares += (e.n - 1) * sd**2
        squares += e.n * (e.mean - mean) ** 2
    return Estimate(mean, float(t.ppf(0.975, total - 1)) * math.sqrt(squares / (total - 1) / total), total)


def training_tail(histories: Sequence[Sequence[dict]], key: str, fraction: float = TRAINING_TAIL) -> float | None:
    """Mean over runs of each run's mean of ``key`` over the last ``fraction`` of its logged history entries
    (at least one); None when no run logged ``key``."""
    per_run = []
    for history in histories:
        values = [entry[key] for entry in history if key in entry]
        if values:
            tail = values[-max(1, math.ceil(fraction * len(values))):]
            per_run.append(math.fsum(tail) / len(tail))
    return math.fsum(per_run) / len(per_run) if per_run else None


def _without(config: dict, paths: Iterable[tuple[str, ...]]) -> dict:
    config = json.loads(json.dumps(config))
    for path in paths:
        node = config
        for key in path[:-1]:
            node = node.get(key, {})
        node.pop(path[-1], None)
    return config


def _digest(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def combination_key(config: dict) -> str:
    """What the runs of one combination share: the config without seed, device and execution-only settings."""
    return _digest(_without(config, SEED_PATHS))


def baseline_key(config: dict) -> str:
    """What a combination shares with its baseline: the config without seed, device, adversary and generator."""
    return _digest(_without(config, VARIANT_PATHS))


@dataclass
class Entry:
    """One combination: its runs pooled over seeds, its baseline and its rank in the section."""

    key: str
    config: dict
    parts: dict[str, str | None]
    metric: str | None = None
    estimate: Estimate | None = None
    seeds: list[int] = field(default_factory=list)
    planned: int = 0  # seeds the suite asks for; 0 without a suite
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    wall_times: list[float] = field(default_factory=list)
    histories: list[list[dict]] = field(default_factory=list)
    per_seed: dict[int, float] = field(default_factory=dict)  # seed -> that run's mean test metric
    #: the post-hoc alignment probe's held-out domain accuracy (``metareg.run.probe``), mean over the seeds that
    #: have one; None for a benchmark without a target domain or runs stored before the probe existed
    probe_accuracy: float | None = None
    settings: str = ""  # what tells it apart from entries with the same parts in its section
    baseline: "Entry | None" = None
    rank: int | None = None
    #: the published value a suite's ``paper:`` block gives for this combination's cells (``metareg.grid.paper``)
    paper: "PaperValue | None" = None
    #: what a ``metareg tune`` study made this row: ``tuned (N trials, source-val)``, ``default`` (the untuned
    #: configuration beside it) or ``trial K`` (shown with ``leaderboard --trials``); None for other runs
    study_role: str | None = None

    @property
    def is_baseline(self) -> bool:
        return not self.parts.get("adversary") and not self.parts.get("generator")

    @property
    def runs(self) -> int:
        return len(self.seeds)

    @property
    def wall_time(self) -> float | None:
        return math.fsum(self.wall_times) / len(self.wall_times) if self.wall_times else None

    @property
    def domain_accuracy(self) -> float | None:
        """The domain discriminator's accuracy over the last quarter of meta-training, averaged over seeds.

        Why it is on the board: an adversary's gain or loss means little without knowing whether it aligned the
        features at all; near 0.5 means the discriminator could no longer tell source from target features."""
        return training_tail(self.histories, DOMAIN_ACCURACY)

    @property
    def delta(self) -> float | None:
        """This row's mean minus its baseline's (None for a baseline row, or when either is missing)."""
        if self.is_baseline or self.baseline is None or self.baseline.estimate is None or self.estimate is None:
            return None
        return self.estimate.mean - self.baseline.estimate.mean

    @property
    def paper_delta(self) -> float | None:
        """This row's mean minus the paper's value (None without either)."""
        if self.paper is None or self.estimate is None:
            return None
        return self.estimate.mean - self.paper.value

    @property
    def paper_overlap(self) -> bool | None:
        """Whether our 95% CI and the paper's interval meet (``PaperValue.overlaps``); None without either."""
        if self.paper is None or self.estimate is None:
            return None
        return self.paper.overlaps(self.estimate.mean, self.estimate.ci95)

    @property
    def label(self) -> str:
        text = self.parts["learner"] or "?"
        for section in families.OPTIONAL:
            if self.parts.get(section):
                text += f" + {self.parts[section]}"
        return text + (f" [{self.settings}]" if self.settings else "")


@dataclass(frozen=True)
class Curve:
    """One row's validation metric by outer update: at each iteration that *every* one of its finished seeds
    validated at, the mean over those seeds; ``dropped`` the iterations only some of them logged (left out, so
    each point averages the same seeds); ``best_at`` the iteration of the best mean in the metric's direction (the
    earliest on a tie; None without a direction or a point)."""

    iterations: list[int]
    means: list[float]
    dropped: list[int]
    best_at: int | None


def validation_key(metric: str | None) -> str:
    """The history key the engine logs a validation point under (``val_accuracy``, ``val_mse``)."""
    return f"val_{metric}"


def validation_curve(histories: Sequence[Sequence[dict]], key: str, higher_is_better: bool | None) -> Curve:
    """The :class:`Curve` of ``key`` over runs' logged ``histories`` (one list of entries per finished run)."""
    per_run = []
    for history in histories:
        points = {}
        for entry in history:
            if entry.get(key) is not None:
                points[int(entry["iteration"])] = float(entry[key])
        per_run.append(points)
    if not per_run:
        return Curve([], [], [], None)
    shared = set.intersection(*(set(points) for points in per_run))
    iterations = sorted(shared)
    means = [math.fsum(points[i] for points in per_run) / len(per_run) for i in iterations]
    finite = [(mean, i) for i, mean in zip(iterations, means) if math.isfinite(mean)]
    best_at = None
    if finite and higher_is_better is not None:
        best = (max if higher_is_better else min)(mean for mean, _ in finite)
        best_at = next(i for mean, i in finite if mean == best)
    return Curve(iterations, means, sorted(set().union(*per_run) - shared), best_at)


@dataclass
class Section:
    """One benchmark config, where the rows share a metric."""

    benchmark: str
    settings: str
    entries: list[Entry]

    @property
    def metric(self) -> str | None:
        return next((e.metric for e in self.entries if e.metric), None)

    @property
    def higher_is_better(self) -> bool | None:
        return HIGHER_IS_BETTER.get(self.metric or "")

    @property
    def has_probe(self) -> bool:
        """Whether any row has a probe accuracy (then the section shows that column)."""
        return any(e.probe_accuracy is not None for e in self.entries)

    @property
    def has_paper(self) -> bool:
        """Whether any row has a published value (then the section shows the paper columns)."""
        return any(e.paper is not None for e in self.entries)

    @property
    def papers(self) -> list["PaperValue"]:
        """The section's published values, once each, in row order (their sources go under the table)."""
        return list(dict.fromkeys(e.paper for e in self.entries if e.paper is not None))

    @property
    def has_domain_accuracy(self) -> bool:
        """Whether any row reports a domain accuracy (then the section shows that column)."""
        return any(e.domain_accuracy is not None for e in self.entries)

    @property
    def title(self) -> str:
        return self.benchmark + (f" [{self.settings}]" if self.settings else "")

    @property
    def headroom(self) -> list[Headroom]:
        """The headroom views of a shift benchmark's rows (``metareg.board.headroom``); empty without an oracle or
        source-test row."""
        return headroom(self.entries, self.higher_is_better)

    @property
    def curves(self) -> list[Curve]:
        """Each row's validation curve (see :class:`Curve`), in row order."""
        return [validation_curve(e.histories, validation_key(self.metric), self.higher_is_better)
                for e in self.entries]


@dataclass
class Board:
    title: str
    description: str
    sections: list[Section]
    footer: dict[str, object]
    #: the ``metareg tune`` studies behind the board's tuned rows (``metareg.board.studies.StudyTrials``)
    studies: list = field(default_factory=list)


def cell_outcomes(rows) -> tuple[dict, dict[str, int]]:
    """Per config hash, the run that stands for the cell and the number of its failed attempts.

    The latest *successful* run stands for a cell that has one (a later failed ``--rerun`` is counted as a failed
    attempt beside it, never in its place), else the latest failed one. It is the store's own rule for a cell
    being done (``standing_run``, which ``Store.claim`` reads too), so the board and ``bench --retry-failed``
    agree on what is failed.
    """
    by_hash: dict[str, list] = {}
    for row in sorted(rows, key=lambda r: r.id):
        if row.status in ("done", "failed"):
            by_hash.setdefault(row.config_hash, []).append(row)
    latest = {digest: standing_run(finished) for digest, finished in by_hash.items()}
    failures = {digest: sum(r.status == "failed" for r in finished) for digest, finished in by_hash.items()}
    return latest, failures


def build_board(rows, plan=None, *, select=None, title: str = "metareg leaderboard", description: str = "",
                store_path: str | Path | None = None, paper: dict | None = None, studies: Sequence[dict] = (),
                trials: bool = False) -> Board:
    """The board of the store's ``rows`` (``RunRow``s); with a ``plan`` (a suite's cells) only its cells, and its
    unfinished cells as missing; with ``select`` (a predicate on a row) only the rows it accepts. Each cell shows
    its run as ``cell_outcomes`` decides (a rerun replaces the earlier), with its failed attempts counted.
    ``paper`` (config hash -> ``PaperValue``, ``metareg.grid.paper.match_paper``) puts each published value on
    the row of the cells it names. ``studies`` (``Store.study_runs``) labels the rows a ``metareg tune`` study made
    and leaves out its trials, which are the search and not a result, unless ``trials``. With a ``plan``, a study
    whose default rows are the plan's cells (``metareg tune --suite``) shows its tuned row, and its trials, too."""
    from metareg.board.studies import study_trials

    rows = list(rows)
    if plan is not None:
        studies = of_plan(studies, {cell.hash for cell in plan.cells})
    roles = study_roles(studies)
    hidden = {digest for digest, role in roles.items() if role.startswith("trial") and not trials}
    latest, failures = cell_outcomes(r for r in rows if (select is None or select(r)) and r.config_hash not in hidden)
    if plan is not None:
        wanted = {cell.hash for cell in plan.cells} | {r["config_hash"] for r in studies}
        latest = {h: r for h, r in latest.items() if h in wanted}
    entries: dict[str, Entry] = {}

    def entry_for(config: dict, parts: dict) -> Entry:
        config = without_default_domains(config)
        key = combination_key(config)
        if key not in entries:
            entries[key] = Entry(key, _without(config, EXECUTION_ONLY), dict(parts))
        return entries[key]

    if plan is not None:
        from metareg.run.config import to_container

        for cell in plan.cells:
            entry = entry_for(to_container(cell.cfg), cell.parts)
            entry.planned += 1
            if paper and cell.hash in paper:
                entry.paper = paper[cell.hash]
    done: dict[str, list] = {}
    for row in latest.values():
        entry = entry_for(row.config, row.parts)
        entry.failed += failures[row.config_hash]
        entry.study_role = roles.get(row.config_hash, entry.study_role)
        if row.status == "failed":
            entry.errors.append(row.error or "")
            continue
        entry.seeds.append(row.seed)
        entry.wall_times.append(row.wall_time or 0.0)
        entry.histories.append(row.history or [])
        done.setdefault(entry.key, []).append(row)
    for key, finished in done.items():
        _pool_metrics(entries[key], finished)
    sections = _sections(list(entries.values()))
    return Board(title, description, sections, footer(latest.values(), store_path), study_trials(studies, rows))


def of_plan(studies: Sequence[dict], hashes: set[str]) -> list[dict]:
    """The ``study_runs`` rows of the studies whose default configuration is one of the cells ``hashes``."""
    keys = {r["study"] for r in studies if r["role"] == "default" and r["config_hash"] in hashes}
    return [r for r in studies if r["study"] in keys]


def study_roles(studies: Sequence[dict]) -> dict[str, str]:
    """Config hash -> the label of what a study made it; a run that is both a trial and the tuned row is tuned."""
    counts: dict[str, int] = {}
    for r in studies:
        if r["role"] == "trial":
            counts[r["study"]] = max(counts.get(r["study"], 0), r["number"] + 1)
    labels: dict[str, str] = {}
    rank = {"trial": 0, "default": 1, "tuned": 2}
    chosen: dict[str, int] = {}
    for r in studies:
        spec = r["spec"]
        rule = spec.get("select", "?") + (": an oracle" if spec.get("select") == "target-val" else "")
        label = {"tuned": f"tuned ({counts.get(r['study'], 0)} trials, {rule})",
                 "default": "default (untuned)", "trial": f"trial {r['number']} of study {r['study']}"}[r["role"]]
        if rank[r["role"]] >= chosen.get(r["config_hash"], -1):
            labels[r["config_hash"]], chosen[r["config_hash"]] = label, rank[r["role"]]
    return labels


def _pool_metrics(entry: Entry, rows) -> None:
    entry.metric = task_metric_name(rows[0].metrics)
    estimates = [Estimate(r.metrics[entry.metric]["mean"], r.metrics[entry.metric]["ci95"],
                          r.metrics[entry.metric]["n"]) for r in rows if entry.metric in (r.metrics or {})]
    entry.estimate = pool(estimates) if estimates else None
    entry.per_seed = {r.seed: r.metrics[entry.metric]["mean"] for r in rows if entry.metric in (r.metrics or {})}
    probes = [r.metrics[PROBE]["mean"] for r in rows if PROBE in (r.metrics or {})]
    entry.probe_accuracy = math.fsum(probes) / len(probes) if probes else None


def _sections(entries: list[Entry]) -> list[Section]:
    groups: dict[tuple, list[Entry]] = {}
    for entry in entries:
        # a benchmark's domain settings (the oracle, the source test) stay in the section of its other settings
        groups.setdefault((entry.parts["benchmark"],
                           json.dumps(without_domains(entry.config).get("benchmark"), sort_keys=True)),
                          []).append(entry)
    names = [bench for bench, _ in groups]
    sections = []
    for (bench, bench_config), members in sorted(groups.items()):
        same_name = [json.loads(c) for b, c in groups if b == bench]
        settings = _difference(json.loads(bench_config), same_name) if names.count(bench) > 1 else ""
        section = Section(bench, settings, members)
        _label_settings(members)
        by_baseline = {baseline_key(e.config): e for e in members if e.is_baseline}
        for entry in members:
            entry.baseline = by_baseline.get(baseline_key(entry.config))
        _rank(section)
        members.sort(key=lambda e: (e.rank is None, e.rank or 0, e.label))
        sections.append(section)
    return sections


def _difference(mine: dict, all_configs: list[dict]) -> str:
    """``key=value`` for each setting in which ``mine`` differs from some other config of the list."""
    flats = [dict(_flatten(c)) for c in all_configs]
    own = dict(_flatten(mine))
    keys = sorted({k for f in flats for k in f if any(f.get(k) != g.get(k) for g in flats)})
    return ", ".join(f"{k}={own.get(k)}" for k in keys)


def _label_settings(members: list[Entry]) -> None:
    """Label rows with the settings that tell apart rows of the same parts, and every row of the section with
    those same keys (where its config has them), so equal settings always read the same."""
    by_parts: dict[tuple, list[Entry]] = {}
    for entry in members:
        by_parts.setdefault(tuple(sorted((k, str(v)) for k, v in entry.parts.items())), []).append(entry)
    keys: set[str] = set()
    for same in by_parts.values():
        flats = [dict(_flatten(_without(e.config, SEED_PATHS))) for e in same]
        keys |= {k for f in flats for k in f if any(f.get(k) != g.get(k) for g in flats)}
    for entry in members:
        own = dict(_flatten(_without(entry.config, SEED_PATHS)))
        entry.settings = ", ".join(f"{k}={own[k]}" for k in sorted(keys) if k in own)


def _rank(section: Section) -> None:
    """Competition ranking (1, 2, 2, 4) by mean in the metric's direction; no rank without a direction, nor for
    an oracle or source-test row."""
    direction = section.higher_is_better
    # an oracle or source-test row is a reference (it trains or tests on other data), not a method: no rank
    # a mean that is not finite (a test task whose adaptation diverged: inf or nan MSE) cannot be ranked
    scored = [e for e in section.entries if e.estimate is not None and role(e) is None
              and math.isfinite(e.estimate.mean)]
    if direction is None:
        return
    for entry in scored:
        better = sum((o.estimate.mean > entry.estimate.mean) if direction else (o.estimate.mean < entry.estimate.mean)
                     for o in scored)
        entry.rank = better + 1


def footer(rows, store_path: str | Path | None) -> dict[str, object]:
    """Provenance: the versions the runs recorded, the metareg commit the report was made from, and when."""
    seen: dict[str, set[str]] = {}
    for row in rows:
        for name, version in (row.versions or {}).items():
            seen.setdefault(name, set()).add(str(version))
    return {
        "versions": {name: sorted(v) for name, v in sorted(seen.items())},
        "commit": _commit(),
        "store": str(store_path) if store_path else None,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _commit() -> str | None:
    """The metareg source tree's git commit (with ``-dirty``), when metareg runs from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=here,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None
