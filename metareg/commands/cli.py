"""The ``metareg`` command. Each subcommand is a module in ``metareg.commands`` with ``add_parser`` and ``run``.

Every ``MetaregError`` becomes one line on stderr and exit code 2 (``METAREG_RAISE_ERRORS=1`` re-raises it for
debugging); a run that fails after it started is stored as failed and exits 1; any other exception is a bug in
metareg, said in one line (exit 1), never a traceback unless ``METAREG_RAISE_ERRORS=1`` asks for one. Ctrl-C and
SIGTERM stop a command the same way (SIGTERM is raised as ``metareg.errors.Interrupted``, so every clean-up runs)
and end in one line saying what was interrupted, what was kept and how to resume, exit 130 and 143.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

from metareg.errors import Interrupted, MetaregError, signal_words
from metareg.run.deferred_signals import deferred_signals

#: subcommand modules, in the order ``metareg --help`` lists them
COMMANDS = ("bench", "tune", "leaderboard", "runs", "predict", "plugins", "perf")


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
    with its type and message and how to see the traceback, exit 1. Ctrl-C and SIGTERM are one line too, exit
    128 + the signal. ``SystemExit`` (argparse's usage errors) passes through. ``METAREG_RAISE_ERRORS=1`` re-raises
    every kind, traceback and all.
    """
    raise_errors = os.environ.get("METAREG_RAISE_ERRORS") == "1"
    started_at = _command_started_at()
    args = None
    try:
        with sigterm_interrupts(), one_line_warnings():
            args = parse(argv)
            args.started_at = started_at
            return importlib.import_module(f"metareg.commands.{args.command}").run(args)
    except KeyboardInterrupt as exc:
        if raise_errors:
            raise
        with deferred_signals(redeliver=False):  # a second Ctrl-C while saying so must not end in a traceback
            signum = getattr(exc, "signum", signal.SIGINT)
            said = getattr(exc, "summary", None) or (
                f"interrupted by {signal_words(signum)}" + (f" during `metareg {args.command}`" if args else "")
                + ": nothing already stored or written is lost (the store commits whole runs, and files are "
                  "replaced only once complete); run the command again to finish")
            print(f"metareg: {said}", file=sys.stderr)
        if argv is None and threading.current_thread() is threading.main_thread():
            # the process's own command line: it exits next, and a further Ctrl-C during the interpreter's
            # shutdown would end it by the signal (-2) instead of the exit code said
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
        return 128 + signum
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


_commands_run = 0


def _command_started_at() -> float:
    """When the user issued this command: the process's start for the first ``main`` call of a process (so two
    commands launched together agree however long their start-up takes), the call itself for later ones (a
    process that calls ``main`` repeatedly, as tests do). A forced ``--rerun`` redoes the runs started before it."""
    import time

    from metareg.store.database import process_started_at

    global _commands_run
    _commands_run += 1
    return process_started_at() if _commands_run == 1 else time.time()


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """metareg's own warnings (their text starts ``metareg:``) shown as that one line, not with the file, line
    number and source line that Python adds, which say nothing to a user; other warnings as Python shows them."""
    import warnings

    previous = warnings.formatwarning

    def formatted(message, category, filename, lineno, line=None):
        text = str(message)
        return f"{text}\n" if text.startswith("metareg:") else previous(message, category, filename, lineno, line)

    warnings.formatwarning = formatted
    try:
        yield
    finally:
        warnings.formatwarning = previous


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises ``Interrupted`` while the block runs, as Ctrl-C raises ``KeyboardInterrupt``, so a stopped
    grid releases its claims and says what it kept instead of dying silently (only the main thread may do this)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
