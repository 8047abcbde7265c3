"""The ``metareg`` command. Each subcommand is a module in ``metareg.commands`` with ``add_parser`` and ``run``.

Every ``MetaregError`` becomes one line on stderr and exit code 2 (``METAREG_RAISE_ERRORS=1`` re-raises it for
debugging); a run that fails after it started is stored as failed and exits 1; any other exception is a bug in
metareg, said in one line (exit 1), never a traceback unless ``METAREG_RAISE_ERRORS=1`` asks for one.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from metareg.errors import MetaregError

#: subcommand modules, in the order ``metareg --help`` lists them
COMMANDS = ("bench", "leaderboard", "runs", "predict", "plugins", "perf")


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
    """Run one command; its exit code. What a user got wrong is exit 2 with one line; anything else is a bug.

    A ``MetaregError`` is the user's to fix (bad input, a broken plugin, an unusable store): one line, exit 2.
    Any other exception means metareg (or a plugin it ran) broke a promise, so it is said to be a bug, in one line
    with its type and message and how to see the traceback, exit 1. ``KeyboardInterrupt`` and ``SystemExit`` (argparse's
    usage errors) pass through. ``METAREG_RAISE_ERRORS=1`` re-raises either kind, traceback and all.
    """
    raise_errors = os.environ.get("METAREG_RAISE_ERRORS") == "1"
    try:
        args = parse(argv)
        return importlib.import_module(f"metareg.commands.{args.command}").run(args)
    except MetaregError as exc:
        if raise_errors:
            raise
        print(f"metareg: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`metareg leaderboard | head`): nothing is wrong, stop quietly
        sys.stdout = open(os.devnull, "w")  # so that flushing stdout at exit does not raise again
        return 1
    except Exception as exc:
        if raise_errors:
            raise
        text = " ".join(str(exc).split()) or "(no message)"
        print(f"metareg: internal error, a bug in metareg (or in a plugin it ran): {type(exc).__name__}: {text}; "
              f"rerun with METAREG_RAISE_ERRORS=1 to see the traceback, and please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
