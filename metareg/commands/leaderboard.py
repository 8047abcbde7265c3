"""``metareg leaderboard``: the store's runs as a leaderboard (Markdown, HTML with plots, CSV, JSON).

With ``--suite NAME`` (or selectors, as for ``bench``) the board holds exactly that grid's cells, unfinished ones
shown as missing; with neither, every run in the store.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from metareg.commands.bench import add_grid_arguments, grid_blocks, grid_settings

NAME = "leaderboard"


def add_parser(sub) -> argparse.ArgumentParser:
    board = sub.add_parser(
        NAME,
        help="the stored runs as a leaderboard: mean ± 95%% CI per combination, baselines, ranks, plots",
        description="One row per combination (seeds pooled), grouped by benchmark, with its baseline (no adversary, "
                    "no generator), rank, run counts, failures and wall time. Give --suite (or the selectors and "
                    "settings the grid was run with) to show exactly that grid.",
    )
    add_grid_arguments(board)
    board.add_argument("--format", default="md", metavar="FORMATS",
                       help="md, html, csv or json; several comma separated (default md)")
    board.add_argument("--out", metavar="DIR", help="write leaderboard[-SUITE].<format> files here (default: stdout)")
    board.add_argument("--title", help="the report's title")
    return board


def run(args: argparse.Namespace) -> int:
    from metareg.board import build_board
    from metareg.commands.common import load_registry
    from metareg.errors import ConfigError
    from metareg.grid import expand, parse_list
    from metareg.report import FORMATS, render
    from metareg.store import Store, store_path

    formats = parse_list(args.format, "format")
    for fmt in formats:
        if fmt not in FORMATS:
            raise ConfigError(f"--format {fmt!r}: use one or more of {', '.join(FORMATS)} (comma separated)")
    path = store_path(args.store)
    if not path.is_file():
        raise ConfigError(f"no results store at {path}: run `metareg bench` first, or point --store (or "
                          f"METAREG_STORE) at the store the runs went to")
    blocks, suite = grid_blocks(args, default_suite=None)
    plan = None
    if blocks:
        plan = expand(load_registry(), blocks, grid_settings(args))
    title = args.title or ("metareg leaderboard" + (f": {suite.name}" if suite else ""))
    store = Store(path)
    board = build_board(store.runs(), plan, title=title, description=suite.description if suite else "",
                        store_path=store.path)
    if not args.out:
        for fmt in formats:
            print(render(board, fmt), end="")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "leaderboard" + (f"-{suite.name}" if suite else "")
    for fmt in formats:
        target = out / f"{stem}.{FORMATS[fmt][1]}"
        target.write_text(render(board, fmt), encoding="utf-8")
        print(target)
    return 0
