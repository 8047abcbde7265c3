"""Lists of alphabet or script names as a config gives them: ``latin,greek`` (or ``latin+greek``), ``none``."""
from __future__ import annotations

from typing import Sequence

import metareg


def parse_names(value: str, available: Sequence[str], key: str, what: str, example: str,
                everything: bool = False) -> list[str]:
    """The names of ``value``, lowercased, in the order given, each once; ``none`` (or nothing) is the empty list
    and, with ``everything``, ``all`` is every one of ``available``. An unknown name is a ``ConfigError`` naming
    the setting ``key`` (``benchmark.glyphs.source``), the names there are and an ``example`` value."""
    names = list(dict.fromkeys(v.strip().lower() for v in str(value).replace("+", ",").split(",") if v.strip()))
    if names in ([], ["none"]):
        return []
    if everything and names == ["all"]:
        return list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        short = key.rsplit(".", 1)[-1]
        raise metareg.ConfigError(f"{key}: unknown {what} {unknown[0]!r}; available: {', '.join(available)} "
                                  f"(several separated by commas, e.g. {short}={example}"
                                  f"{', or all' if everything else ''})")
    return names
