"""``metareg tune``: search each combination's hyperparameters on validation data, then re-run the selected and the
default configuration on every seed, all as ordinary runs of the store (``metareg.tune.study``).

The selectors, ``--suite``, ``--config`` and ``key=value`` name combinations exactly as for ``metareg bench``; each
combination is one study. ``--show`` lists the studies' trials from the store without running anything.
"""
from __future__ import annotations

import argparse
import itertools
import sys

from metareg.commands.bench import (add_execution_arguments, add_grid_arguments, apply_threads, grid_blocks,
                                    grid_settings, selector_axes)
from metareg.errors import ConfigError

NAME = "tune"


def add_parser(sub) -> argparse.ArgumentParser:
    from metareg.tune.study import SAMPLERS, SELECTIONS

    tune = sub.add_parser(
        NAME,
        help="search hyperparameters on validation data (Optuna), then re-run the selected configuration per seed",
        description="One study per combination of the selectors: --trials configurations drawn from the parts' "
                    "search spaces (and --search), each an ordinary run on the first seed, selected on the "
                    "validation metric only; the selected and the default configuration then run on every seed. "
                    "Resumable: a finished trial is never repeated. Needs pip install 'metareg[tune]'.",
    )
    add_grid_arguments(tune)
    tune.add_argument("--trials", type=int, default=None, metavar="N", help="configurations tried per study")
    tune.add_argument("--sampler", choices=SAMPLERS, default="tpe",
                      help="Optuna's TPE (default) or random search; seeded, so a command proposes the same trials")
    tune.add_argument("--sampler-seed", type=int, default=0, metavar="S", help="the sampler's seed (default 0)")
    tune.add_argument("--select", default="source-val", metavar="RULE",
                      help=f"model selection ({', '.join(SELECTIONS)}): the best validation metric on the source "
                           f"domain's validation episodes (default), or on labelled target-domain episodes of the "
                           f"validation classes (an oracle; a benchmark with val_domain); the test split is never "
                           f"read")
    tune.add_argument("--search", action="append", default=[], metavar="KEY=SPEC",
                      help="search KEY over SPEC (log:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH, choice:A,B), "
                           "replacing or adding to the declared space; e.g. learner.maml.inner_lr=log:0.01:1")
    tune.add_argument("--search-only", action="store_true",
                      help="search only the --search keys (and the suite's search block), not the parts' own")
    add_execution_arguments(tune, "trials", "run N trials at once in worker processes; N is part of the study (its "
                                            "proposals depend on it), so resume with the same N")
    tune.add_argument("--show", action="store_true", help="list each study's trials from the store; run nothing")
    tune.add_argument("--quiet", action="store_true", help="no progress output")
    return tune


def require_optuna() -> None:
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        raise ConfigError("metareg tune needs Optuna: pip install 'metareg[tune]'")


def studies(args: argparse.Namespace, registry) -> list:
    """One ``StudySpec`` per combination the command names, each checked (its space, its validation) before any
    trial runs."""
    from metareg.host.search import parse_spec
    from metareg.tune.space import combination_space
    from metareg.tune.study import SELECTIONS, StudySpec, base_cell, check_selection, metric_of

    if args.trials is None and not args.show:
        raise ConfigError("metareg tune needs --trials N, the number of configurations each study tries")
    if args.trials is not None and args.trials < 1:
        raise ConfigError(f"--trials {args.trials}: a study needs at least 1 trial")
    if args.select not in SELECTIONS:
        raise ConfigError(f"--select {args.select}: the selection rules are {', '.join(SELECTIONS)}")
    blocks, suite = grid_blocks(args, registry=registry)
    if not blocks:
        raise ConfigError("metareg tune needs a combination: give --learner and --benchmark (or --suite)")
    overrides = dict(suite.search) if suite is not None else {}
    for item in args.search:
        key, sep, spec = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--search {item!r}: give KEY=SPEC, e.g. learner.maml.inner_lr=log:0.01:1")
        overrides[key.strip()] = parse_spec(key.strip(), spec.strip())
    settings = tuple(grid_settings(args))
    _, seeds_given = selector_axes(args)
    found = []
    for block in blocks:
        seeds = seeds_given or tuple(block.axes.get("seeds") or (0,))
        names = [(axis, values) for axis, values in block.axes.items() if axis != "seeds"]
        for combo in itertools.product(*(values for _, values in names)):
            axes = tuple((axis, name) for (axis, _), name in zip(names, combo))
            base = StudySpec(axes, tuple(block.settings) + settings, (), args.trials or 1, seeds=seeds)
            cell = base_cell(registry, base, args.device)
            metric_of(cell)  # validation must be on
            own = {k: v for k, v in overrides.items() if _applies(k, cell)}
            space = combination_space(cell.cfg, cell.selection, own, only=args.search_only)
            spec = StudySpec(axes, base.settings, tuple(space.items()), args.trials or 1, args.sampler,
                             args.select, args.sampler_seed, seeds, max(1, args.workers))
            check_selection(registry, spec, args.device)
            found.append(spec)
    return found


def _applies(key: str, cell) -> bool:
    """Whether a ``search`` override names this cell's parts (``learner.maml.*`` only where the learner is
    maml), so a suite's space for one learner does not fail the studies of another."""
    family, _, rest = key.partition(".")
    name = rest.partition(".")[0]
    return family not in cell.parts or cell.parts.get(family) == name


def run(args: argparse.Namespace) -> int:
    from metareg.commands.common import load_registry
    from metareg.store.database import Store, existing_store

    require_optuna()
    registry = load_registry()
    specs = studies(args, registry)
    if args.show:
        store = existing_store(args.store)
        for spec in specs:
            print(show_study(registry, store, spec))
        return 0
    store = Store(args.store)
    for spec in specs:
        outcome = run_one(args, registry, store, spec)
        print(summary(store, outcome))
    return 0


def run_one(args, registry, store, spec):
    from metareg.grid.executors import make_executor
    from metareg.grid.expand import Plan
    from metareg.grid.progress import GridProgress, progress_mode
    from metareg.grid.runner import GridRunner
    from metareg.tune.study import run_study

    mode = progress_mode(args.quiet)
    label = " + ".join(name for _, name in spec.axes)
    if mode != "quiet":
        print(f"study {spec.key} ({label}): {spec.trials} trials of {', '.join(k for k, _ in spec.space)}, "
              f"{spec.sampler}, selected on {spec.select}", file=sys.stderr)

    def run_cells(cells) -> None:
        for index, cell in enumerate(cells):
            cell.index = index  # the runner keys cells by index: unique within this batch
        progress = GridProgress(len(cells), mode)
        executor = make_executor(args.executor, workers=args.workers, device=args.device,
                                 ray_address=args.ray_address, registry=registry, progress=mode == "bar",
                                 threads=args.threads)
        try:
            GridRunner(store, executor, on_start=progress.started, on_end=progress.ended).run(Plan(list(cells)))
        finally:
            progress.close()

    apply_threads(args)
    return run_study(registry, store, spec, run_cells, device=args.device)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def summary(store, outcome) -> str:
    """The study's trials, the selection, and the tuned and default rows' test metric over the seeds (read only
    now, after the selection)."""
    from metareg.board.build import pool
    from metareg.toolkit.stats import Estimate

    spec = outcome.spec
    lines = [f"study {spec.key}: {len(outcome.trials)} trials, selected on {spec.select} "
             f"(validation {outcome.metric}, {'higher' if outcome.higher_is_better else 'lower'} is better)"]
    for t in outcome.trials:
        mark = " <- selected" if t is outcome.best else ""
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items())
        lines.append(f"  trial {t.number}: {values}: val {outcome.metric} "
                     f"{'—' if t.value is None else f'{t.value:.4f}'} ({t.state}){mark}")
    for name, cells in (("tuned", outcome.tuned), ("default", outcome.default)):
        rows = [store.standing(c.hash) for c in cells]
        stored = [r.metrics[outcome.metric] for r in rows
                  if r is not None and r.status == "done" and outcome.metric in (r.metrics or {})]
        estimates = [Estimate(m["mean"], m["ci95"], m["n"]) for m in stored]
        text = pool(estimates).format(4) if estimates else "—"
        lines.append(f"  {name} on seeds {','.join(map(str, spec.seeds))}: test {outcome.metric} {text}")
    return "\n".join(lines)


def show_study(registry, store, spec) -> str:
    """A study's trials as the store has them: values tried, validation metric, state; nothing is run."""
    from metareg.tune.study import base_cell, metric_of, validation_value

    metric, higher = metric_of(base_cell(registry, spec))
    rows = [r for r in store.study_runs(spec.key) if r["role"] == "trial"]
    label = " + ".join(name for _, name in spec.axes)
    if not rows:
        return f"study {spec.key} ({label}): no trials in {store.path} yet"
    lines = [f"study {spec.key} ({label}): {len(rows)} trials, validation {metric}"]
    for r in rows:
        run = store.standing(r["config_hash"])
        value = validation_value(run, metric, higher)
        state = run.status if run is not None else "not run"
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
        lines.append(f"  trial {r['number']}: {values}: val {metric} {'—' if value is None else f'{value:.4f}'} "
                     f"({state})")
    return "\n".join(lines)
