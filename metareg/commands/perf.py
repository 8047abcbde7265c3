"""``metareg perf``: the performance harness (``benchmarks/perf``) run from the ``metareg`` command.

The harness compares metareg with other libraries, so it lives beside the code in the source checkout rather than
in the installed package (which must not depend on them). This module only finds that checkout and hands every
argument to the harness's own parser, so ``metareg perf ARGS`` and ``python -m benchmarks.perf ARGS`` are one
command; outside a checkout it says where to get one.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from metareg.errors import MetaregError

NAME = "perf"


def add_parser(sub) -> argparse.ArgumentParser:
    perf = sub.add_parser(
        NAME,
        help="meta-training speed and memory against a per-task loop, learn2learn and higher (from a checkout)",
        description="Runs python -m benchmarks.perf; `metareg perf --help` shows its options.",
        # every argument, --help included, goes to the harness's own parser: with no options of its own (and "+"
        # as its only prefix) this subparser takes "--steps 3" as plain words
        add_help=False,
        prefix_chars="+",
    )
    perf.add_argument("harness_args", nargs="*", help=argparse.SUPPRESS)
    return perf


def checkout_root() -> Path | None:
    """The source checkout holding ``benchmarks/perf``: the one this metareg was installed from (editable), or the
    current directory."""
    import metareg

    for root in (Path(metareg.__file__).resolve().parent.parent, Path.cwd()):
        if (root / "benchmarks" / "perf" / "__init__.py").is_file():
            return root
    return None


def run(args: argparse.Namespace) -> int:
    root = checkout_root()
    if root is None:
        raise MetaregError(
            "metareg perf runs the performance harness in benchmarks/perf/, which ships with the source checkout, "
            "not with the installed package: clone the metareg repository, `pip install -e '.[perf]'` there, and "
            "run `metareg perf` (or `python -m benchmarks.perf`) from it"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    cli = importlib.import_module("benchmarks.perf.cli")
    return cli.main(args.harness_args, prog="metareg perf")
