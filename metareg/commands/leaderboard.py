"""``metareg leaderboard``: the store's runs as a leaderboard (Markdown, HTML with plots, CSV, JSON).

With ``--suite NAME`` the board holds exactly that suite's cells, unfinished ones shown as missing. Without it the
selectors, seeds and ``key=value`` settings filter the stored runs (``metareg.board.select``): a selector left out
matches every run, a setting narrows only the runs it applies to; with none of them, every run in the store.
``--curves`` adds each row's validation metric by outer update (``metareg.board.report.curve_table``). A suite
with a ``paper:`` block (``metareg.grid.paper``) adds the published value beside each cell it names.
"""
from __future__ import annotations

import argparse

from metareg.commands.bench import add_grid_arguments, grid_blocks, grid_settings, paper_values, selector_axes

NAME = "leaderboard"


def add_parser(sub) -> argparse.ArgumentParser:
    board = sub.add_parser(
        NAME,
        help="the stored runs as a leaderboard: mean ± 95%% CI per combination, baselines, ranks, plots",
        description="One row per combination (seeds pooled), grouped by benchmark, with its baseline (no adversary, "
                    "no generator), rank, run counts, failures and wall time. --suite shows exactly that suite's "
                    "grid; selectors and key=value settings narrow the stored runs shown.",
    )
    add_grid_arguments(board, filters=True)
    board.add_argument("--format", default="md", metavar="FORMATS",
                       help="md, html, csv or json; several comma separated (default md)")
    board.add_argument("--out", metavar="DIR", help="write leaderboard[-SUITE].<format> files here (default: stdout)")
    board.add_argument("--title", help="the report's title")
    board.add_argument("--curves", action="store_true",
                       help="after each benchmark's table, the validation metric by outer update: per row the mean "
                            "over its finished seeds at each validation point, and where it is best (md, html, "
                            "json; csv unchanged)")
    board.add_argument("--trials", action="store_true",
                       help="also show the trials of `metareg tune` studies (left out by default: they are the "
                            "search, and their tuned and default rows are the result)")
    return board


def run(args: argparse.Namespace) -> int:
    from metareg.board.build import build_board
    from metareg.commands.common import load_registry
    from metareg.errors import ConfigError
    from metareg.grid.expand import expand, parse_list
    from metareg.board.report import FORMATS, render
    from metareg.commands.outputs import out_folder, write_output
    from metareg.store.database import existing_store

    formats = parse_list(args.format, "format")
    for fmt in formats:
        if fmt not in FORMATS:
            raise ConfigError(f"--format {fmt!r}: use one or more of {', '.join(FORMATS)} (comma separated)")
    out = out_folder(args.out) if args.out else None  # before the board is built: a wrong --out costs nothing
    store = existing_store(args.store)
    plan, select, suite, paper = None, None, None, {}
    if args.suite:
        blocks, suite = grid_blocks(args, default_suite=None)
        plan = expand(load_registry(), blocks, grid_settings(args))
        paper = paper_values(args, suite, plan)
    else:
        select = selected_runs(args)
    title = args.title or ("metareg leaderboard" + (f": {suite.name}" if suite else ""))
    board = build_board(store.runs(), plan, select=select, title=title, description=suite.description if suite else "",
                        store_path=store.path, paper=paper, studies=store.study_runs(), trials=args.trials)
    if out is None:
        for fmt in formats:
            print(render(board, fmt, curves=args.curves), end="")
        return 0
    stem = "leaderboard" + (f"-{suite.name}" if suite else "")
    for fmt in formats:
        target = out / f"{stem}.{FORMATS[fmt][1]}"
        print(write_output(target, render(board, fmt, curves=args.curves)))
    return 0


def selected_runs(args: argparse.Namespace):
    """The filter the selectors, ``--seeds`` and settings make, or None when none is given (every run)."""
    from metareg.board.select import row_filter

    axes, seeds = selector_axes(args)
    settings = grid_settings(args)
    if not axes and seeds is None and not settings:
        return None
    return row_filter(axes, seeds, settings)
