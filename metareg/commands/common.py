"""What every subcommand shares: loading the registry with one warning line per broken plugin, and reading a run
id as ``runs show`` and ``predict`` take it."""
from __future__ import annotations

import re
import sys

#: the largest id SQLite's INTEGER holds: a larger number is no run's id, and the store cannot even be asked for it
MAX_RUN_ID = 2**63 - 1
_WHOLE = re.compile(r"[+-]?[0-9]+")


def load_registry():
    from metareg.host.registry import Registry

    registry = Registry.load(warn=False)
    for failure in registry.failures:
        print(f"metareg: warning: {failure.line()}; `metareg plugins` shows more", file=sys.stderr)
    for notice in registry.notices:
        print(f"metareg: warning: {notice}", file=sys.stderr)
    return registry


def run_id(text: str | int) -> int | None:
    """``text`` as a run id to look up, or None when it is not written as a number at all (``latest``, ``3O``: the
    caller suggests the ids that read like it).

    A number no run can have is a ``ConfigError`` saying so: one beyond SQLite's INTEGER (``99999999999999999999``,
    which SQLite refuses with an ``OverflowError``) or one that is not whole (``1e23``, ``1.5``). Digits are ASCII
    only, since ``int()`` also reads other scripts' digits (``'٣'`` is 3) and ``1_0`` as 10.
    """
    from metareg.errors import ConfigError

    text = str(text).strip()
    if _WHOLE.fullmatch(text):
        number = int(text)
        if abs(number) <= MAX_RUN_ID:
            return number
    elif not (text.isascii() and _is_number(text)):
        return None
    raise ConfigError(f"{text!r} is not a valid run id: a run id is a whole number from 1 to {MAX_RUN_ID}, written in "
                      f"digits 0-9 (`metareg runs` lists them)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
