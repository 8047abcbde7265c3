"""``metareg bench``: meta-train and meta-test a grid of combinations × seeds, resumably, and store every run.

Each part selector takes a comma list and ``--seeds`` a range (``0-4``, ``0,2,5``); the runner runs the product,
skipping incompatible pairs with their reason. ``--suite NAME`` runs a named leaderboard's grid, and a bare
``metareg bench`` runs the ``default`` suite. A cell already finished in the store is not run again (``--rerun``).
"""
from __future__ import annotations

import argparse
import json
import sys

from metareg.commands.common import load_registry
from metareg.grid.cell_states import FAILED, FINISHED, INVALID, KEPT, RAN, REUSED_FAILED, SKIPPED, SUMMARY_WORDS

NAME = "bench"

#: what a bare ``metareg bench`` runs
DEFAULT_SUITE = "default"


def add_parser(sub) -> argparse.ArgumentParser:
    bench = sub.add_parser(
        NAME,
        help="meta-train and evaluate a grid of combinations and seeds (resumable), and store every run",
        description="Meta-train and meta-test every combination of the selectors' comma lists and seeds; settings "
                    "as key=value, e.g. learner.maml.inner_lr=0.4. With no selector, runs the default suite.",
    )
    add_grid_arguments(bench)
    add_execution_arguments(bench, "cells", "run N cells at once in worker processes (one GPU each when there are "
                                            "several)")
    bench.add_argument("--rerun", action="store_true", help="run cells again even if the store has them finished")
    bench.add_argument("--retry-failed", action="store_true", help="run cells again whose stored run failed")
    bench.add_argument("--json", action="store_true", help="print one JSON object per finished run on stdout")
    bench.add_argument("--quiet", action="store_true", help="no progress output")
    bench.add_argument("--print-config", action="store_true", help="print each cell's resolved config and exit")
    bench.add_argument("--log", action="append", default=[], metavar="tensorboard:DIR",
                       help="log every run's curves live to DIR for `tensorboard --logdir DIR` (the same as "
                            "METAREG_TENSORBOARD=DIR; pip install 'metareg[tensorboard]')")
    return bench


def add_grid_arguments(parser: argparse.ArgumentParser, filters: bool = False) -> None:
    """The arguments that name a grid (shared with ``metareg leaderboard``, where without ``--suite`` they filter
    the stored runs instead: ``filters`` says so in the help, and no axis has a default there)."""
    add_selectors(parser, filters)
    parser.add_argument("--suite", metavar="NAME", help="a named suite's grid (benchmarks/suites/NAME.yaml); "
                                                        "selectors given beside it replace that axis")
    parser.add_argument("--config", action="append", default=[], metavar="FILE", help="YAML config file(s)")
    parser.add_argument("--store", metavar="PATH",
                        help="results store folder (default ./metareg-results, or $METAREG_STORE)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")


def add_execution_arguments(parser: argparse.ArgumentParser, what: str, workers_help: str) -> None:
    """Where a grid's runs execute: ``--device``, ``--workers``, ``--executor``, ``--ray-address`` (``bench`` runs
    cells, ``tune`` trials, on the same executors)."""
    parser.add_argument("--device", help="auto (a GPU when torch sees one), cpu, cuda or cuda:N")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help=workers_help)
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help=f"local (this machine) or ray (each of the {what} a Ray task; pip install 'metareg[ray]')")
    parser.add_argument("--ray-address", metavar="ADDRESS", help="join this Ray cluster (default: start a local one)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch threads per process (default: all cores, divided among --workers); give it, or "
                             "OMP_NUM_THREADS, to grids run side by side on one machine, so they share its cores")


def apply_threads(args: argparse.Namespace) -> None:
    """``--threads`` for the runs of this process (``--workers 1``); the workers get it from the executor."""
    if args.threads is not None and args.workers == 1 and args.executor == "local":
        if args.threads < 1:
            from metareg.errors import ConfigError

            raise ConfigError(f"--threads {args.threads}: give 1 or more torch threads per process")
        import torch

        torch.set_num_threads(args.threads)


def add_selectors(parser: argparse.ArgumentParser, filters: bool = False) -> None:
    """The part selectors and ``--seeds`` (also ``metareg runs``'s filters, read by ``selector_axes``)."""
    if filters:
        parser.add_argument("--learner", help="only runs of these meta-learner(s), comma separated (default: all)")
        parser.add_argument("--benchmark", help="only runs on these benchmark(s) (default: all)")
        parser.add_argument("--backbone", help="only runs with these backbone(s) (default: all)")
    else:
        parser.add_argument("--learner", help="meta-learner(s), comma separated (default: maml)")
        parser.add_argument("--benchmark", help="task source(s) (default: sinusoid)")
        parser.add_argument("--backbone", help="feature extractor(s) (default: each benchmark's)")
    parser.add_argument("--adversary", help="domain-alignment loss(es), or none (e.g. none,dann)")
    parser.add_argument("--generator", help="support-set generator(s), or none")
    parser.add_argument("--seeds", "--seed", dest="seeds", metavar="SEEDS", help="seeds: 3, 0-4, 0,2,5 (default 0)")


def grid_settings(args: argparse.Namespace) -> list:
    """The settings of ``--config`` files then ``key=value`` overrides, in order."""
    from metareg.run.config import load_yaml, parse_overrides

    return [s for path in args.config for s in load_yaml(path)] + parse_overrides(args.overrides)


def selector_axes(args: argparse.Namespace) -> tuple[dict[str, tuple], tuple[int, ...] | None]:
    """The part selectors given (axis -> its comma list) and ``--seeds`` (None when not given), parsed once for
    ``bench``'s grid and ``leaderboard``'s filter alike."""
    from metareg.host import families
    from metareg.grid.expand import parse_list, parse_seeds

    axes = {axis: parse_list(getattr(args, axis), axis) for axis in families.GRID_ORDER
            if getattr(args, axis) is not None}
    return axes, (parse_seeds(args.seeds) if args.seeds is not None else None)


def grid_blocks(args: argparse.Namespace, default_suite: str | None = DEFAULT_SUITE, registry=None):
    """The grid's blocks and the suite they came from (None for a grid given by selectors alone); with no selector
    and no config file, ``default_suite`` (None: no grid at all, an empty list)."""
    from metareg.grid.expand import Block, with_shift_default
    from metareg.grid.suites import load_suite

    axes, seeds = selector_axes(args)
    bare = not axes and not args.config
    name = args.suite or (default_suite if bare else None)
    if name is None:
        if bare and seeds is None and not args.overrides:
            return [], None
        if not args.config:
            product, note = with_shift_default(registry or load_registry(), axes)
            if note and not getattr(args, "quiet", False):
                print(note, file=sys.stderr)
            return [Block({**a, **({"seeds": seeds} if seeds else {})}) for a in product], None
        return [Block({**axes, **({"seeds": seeds} if seeds else {})})], None
    suite = load_suite(name)
    return [block.with_axes(**axes, seeds=seeds) for block in suite.blocks], suite


def paper_values(args: argparse.Namespace, suite, plan) -> dict:
    """Config hash -> the suite's published value for that cell (``metareg.grid.paper``). Strict, so an entry that
    matches no cell is an error, when the grid is the suite's own: no selector, seed or setting given beside it."""
    from metareg.grid.paper import match_paper

    if suite is None or not suite.paper:
        return {}
    axes, seeds = selector_axes(args)
    own = not axes and seeds is None and not grid_settings(args)
    return match_paper(suite.paper, plan.cells, f"suite {str(suite.path)!r}", strict=own)


def run(args: argparse.Namespace) -> int:
    from metareg.commands.log_switch import logging_to

    with logging_to(args.log):  # a bad --log is an error before anything loads
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from metareg.run.engine import resolve_device
    from metareg.errors import IncompatibleError
    from metareg.grid.executors import make_executor
    from metareg.grid.expand import expand
    from metareg.grid.progress import GridProgress, progress_mode
    from metareg.grid.runner import GridRunner
    from metareg.store.database import Store

    registry = load_registry()
    blocks, suite = grid_blocks(args, registry=registry)
    plan = expand(registry, blocks, grid_settings(args), device=args.device)
    paper_values(args, suite, plan)  # a paper entry that names no cell is the suite's mistake: found before any run
    if not plan.cells:
        reasons = "; ".join(f"{s.label}: {s.reason}" for s in plan.skipped)
        raise IncompatibleError(f"nothing to run, every combination is incompatible: {reasons}")
    if args.print_config:
        for skip in plan.skipped:
            print(f"skipped {skip.label}: {skip.reason}", file=sys.stderr)
        for cell in plan.cells:
            if len(plan.cells) > 1:
                print(f"# {cell.label}, config {cell.hash}")
            print(OmegaConf.to_yaml(cell.cfg), end="")
        return 0
    if args.executor == "local":
        resolve_device(args.device or "auto")  # a GPU asked for but absent is an error before anything runs
    store = Store(args.store)  # an unusable store too (StoreError), before any progress is drawn
    mode = progress_mode(args.quiet)
    progress = GridProgress(len(plan.cells), mode)
    if suite is not None:
        progress.note(f"suite {suite.name!r} ({suite.path}): {len(plan.cells)} runs")
    for skip in plan.skipped:
        progress.note(f"skipped {skip.label}: {skip.reason}")
    apply_threads(args)
    executor = make_executor(args.executor, workers=args.workers, device=args.device, ray_address=args.ray_address,
                             registry=registry, progress=mode == "bar", threads=args.threads)

    def ended(report) -> None:
        progress.ended(report)
        if args.json and report.state in FINISHED:
            line = report.as_result().as_json()
            if report.state in KEPT:
                line["reused"] = True
            print(json.dumps(line), flush=True)

    try:
        report = GridRunner(store, executor, rerun=args.rerun, retry_failed=args.retry_failed,
                            rerun_before=getattr(args, "started_at", None), on_start=progress.started,
                            on_end=ended).run(plan)
    finally:
        progress.close()
    return summarise(report, plan, store, suite, args)


def summarise(report, plan, store, suite, args) -> int:
    """Print the grid's results and what happened to each cell; the exit code: 2 config errors, 1 failures, 0."""
    ran = report.by_state(*RAN)
    finished = report.by_state(*FINISHED)
    if not args.json and finished:
        print(format_results([c.as_result() for c in sorted(finished, key=lambda c: c.cell.index)]))
    invalid = report.by_state(INVALID)
    for cell in invalid:
        print(f"metareg: error: {cell.error}" if len(plan.cells) == 1 else f"metareg: error: {cell.cell.label}: "
              f"{cell.error}", file=sys.stderr)
    if not args.json and len(invalid) < len(plan.cells):
        if len(plan.cells) == 1 and len(ran) == 1:
            print(f"stored as run {ran[0].run_id} in {store.path}")
        else:
            counts = {words: len(report.by_state(state)) for state, words in SUMMARY_WORDS.items()}
            said = ", ".join(f"{n} {words}" for words, n in counts.items() if n)
            board = ("metareg leaderboard" + (f" --suite {suite.name}" if suite else "")
                     + (f" --store {args.store}" if args.store else ""))
            runs = f"{len(plan.cells)} run" + ("s" if len(plan.cells) != 1 else "")
            print(f"{runs}: {said}; stored in {store.path}; `{board}` shows the board")
        if report.abandoned:
            print(f"redid {report.abandoned} run(s) left unfinished by a stopped runner")
    if invalid:
        return 2
    unwritten = [c.result.model_error for c in ran if c.result is not None and c.result.model_error]
    for error in unwritten:
        print(f"metareg: error: {error}", file=sys.stderr)
    skipped = report.by_state(SKIPPED)
    if skipped and len(skipped) == len(plan.cells):  # nothing could be built: as for a plan with nothing to run
        for cell in skipped:
            print(f"metareg: error: nothing ran: {cell.cell.label}: {cell.error}", file=sys.stderr)
        return 2
    return 1 if report.by_state(FAILED, REUSED_FAILED) or unwritten else 0


def format_results(results) -> str:
    """A plain-text table of finished runs: parts, seed, each metric as mean ± 95% CI (n), wall time."""
    from metareg.toolkit.stats import Estimate

    header = ["learner", "backbone", "benchmark", "adversary", "generator", "seed", "metric", "mean ± 95% CI (n)",
              "wall s", "status"]
    rows = []
    for r in results:
        base = [r.parts["learner"], r.parts["backbone"], r.parts["benchmark"], r.parts["adversary"] or "—",
                r.parts["generator"] or "—", str(r.seed)]
        tail = [f"{r.wall_time:.1f}", r.status if not r.error else f"{r.status}: {r.error}"]
        if not r.metrics:
            rows.append(base + ["—", "—"] + tail)
        for name, m in r.metrics.items():
            rows.append(base + [name, Estimate(m["mean"], m["ci95"], m["n"]).format(4)] + tail)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
