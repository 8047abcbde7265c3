"""Typed errors: the CLI turns every ``MetaregError`` into one clear line and exit code 2.

Each error's message must name the problem *and* the fix, because it is shown without a traceback.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class MetaregError(Exception):
    """Base of every error that is the user's to fix (bad name, bad config, broken plugin)."""


def plural(word: str) -> str:
    """``adversary`` -> ``adversaries``, ``learner`` -> ``learners``: family names in messages."""
    return word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"


class UnknownPartError(MetaregError, LookupError):
    """A part name that no installed plugin registered; the message lists the close matches."""

    def __init__(self, family: str, name: str, available: Iterable[str], filtered: str = ""):
        """``filtered`` says what kept installed parts out (``METAREG_LOAD_PLUGINS``, ``METAREG_BLOCK_PLUGINS``),
        so an empty listing does not read "none installed" when every part is installed but filtered out."""
        self.family, self.name = family, name
        self.available = sorted(available)
        close = difflib.get_close_matches(name, self.available, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        listing = ", ".join(self.available) or ("none loaded" if filtered else "none installed")
        because = f"; {filtered}" if filtered else ""
        super().__init__(
            f"unknown {family} {name!r}: {hint}available {plural(family)}: {listing}{because} "
            f"(`metareg plugins` lists every part and any plugin that failed to load)"
        )


class DuplicatePartError(MetaregError):
    """Two plugins registered the same name in one family; neither is used, so results never depend on install order."""

    def __init__(self, family: str, name: str, first: str, second: str, way_out: str = ""):
        self.family, self.name = family, name
        super().__init__(
            f"{family} {name!r} is registered by both {first} and {second}; "
            + (way_out or "uninstall one of them, or block one with METAREG_BLOCK_PLUGINS=<its plugin name>")
        )


class ContractError(MetaregError, TypeError):
    """A registered part does not meet its family's contract; the message names the missing piece."""


class PluginError(MetaregError):
    """A plugin failed to import or to register; raised only when a run asks for one of its parts."""


class ConfigError(MetaregError, ValueError):
    """A config key that does not exist, or a value of the wrong type; the message names the key and its part."""


class IncompatibleError(MetaregError):
    """Parts that cannot be combined (e.g. a classification-only learner on a regression benchmark)."""


class StoreError(MetaregError):
    """The results store cannot be used: its folder cannot be created or written, the file is not a metareg store
    (or was written by a newer metareg), or it stayed locked; the message names the path and the OS's reason."""


def signal_words(signum: int) -> str:
    """How a message names the signal that stopped a command."""
    import signal

    return {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}.get(signum, f"signal {signum}")


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop (Ctrl-C's SIGINT, or SIGTERM): a ``KeyboardInterrupt``, so every clean-up
    that Ctrl-C runs runs for SIGTERM too. ``signum`` is the signal; ``summary`` (when a command knows it) says what
    was interrupted, what was kept and how to resume, as the one line the CLI prints."""

    def __init__(self, signum: int, summary: str | None = None):
        super().__init__(summary or "")
        self.signum, self.summary = signum, summary
