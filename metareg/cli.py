"""The ``metareg`` command. Each subcommand is a module in ``metareg.commands`` with ``add_parser`` and ``run``.

Every ``MetaregError`` becomes one line on stderr and exit code 2 (``METAREG_RAISE_ERRORS=1`` re-raises it for
debugging); a run that fails after it started is stored as failed and exits 1.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from metareg.errors import MetaregError

#: subcommand modules, in the order ``metareg --help`` lists them
COMMANDS = ("bench", "leaderboard", "plugins", "perf")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metareg",
        description="Meta-learning under domain shift: combine learners, adversaries, generators and benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"metareg.commands.{name}").add_parser(sub)
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, with ``key=value`` overrides allowed anywhere among the options.

    argparse gives a ``nargs="*"`` positional one block of words, so ``bench --learner protonet a=1 --adversary dann
    b=2`` would reject ``b=2``; argparse's ``parse_intermixed_args`` does not support subcommands, so the words
    left over are taken here: those of the form ``key=value`` join the overrides, anything else is the usual error.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        settings = [w for w in extra if "=" in w and not w.startswith("-")]
        rest = [w for w in extra if w not in settings]
        if rest or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(rest or extra)}")
        args.overrides = list(args.overrides) + settings
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    try:
        return importlib.import_module(f"metareg.commands.{args.command}").run(args)
    except MetaregError as exc:
        if os.environ.get("METAREG_RAISE_ERRORS") == "1":
            raise
        print(f"metareg: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
