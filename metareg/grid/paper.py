"""Published values in a suite: its ``paper:`` block, each entry one paper's number for the cells it names, so the
board prints "paper" and "Δ vs paper" beside our mean ± CI, and whether the two intervals overlap.

    paper:
      - name: MAML, 1 step
        where: {learner: maml, settings: {learner: {maml: {test_inner_steps: 1}}}}
        value: 0.67
        ci95: 0.05          # or std: 0.1, or neither: the interval or spread exactly as the paper states it
        source: Finn, Abbeel, Levine 2017 (ICML), Table 2
        protocol: one model meta-trained at K = 10, fine-tuned on K = 5 points; 5-shot MSE

Why entries name cells the way grid blocks do (axes and settings), not rows: a paper's number belongs to a
protocol, which is a config, and the cells are configs; matching them through the resolved config means a value
given as a default and one given in a block read the same. An entry must match at least one cell of the suite's
own grid, and no cell may be matched by two entries: either is a mistake in the suite, found before anything runs
(``metareg bench --suite``) and before a board is drawn (``metareg leaderboard --suite``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from omegaconf import OmegaConf

from metareg.errors import ConfigError
from metareg.grid.expand import AXES, check_keys, parse_list, parse_seeds
from metareg.run.config import Setting, _flatten

PAPER_KEYS = ("name", "where", "value", "ci95", "std", "source", "protocol")
WHERE_KEYS = AXES + ("settings",)
_ABSENT = object()


@dataclass(frozen=True)
class PaperValue:
    """One published number, the cells it is for, and where it comes from."""

    name: str
    axes: tuple[tuple[str, tuple], ...]
    settings: tuple[Setting, ...]
    value: float
    ci95: float | None = None
    std: float | None = None
    source: str = ""
    protocol: str = ""

    @property
    def spread(self) -> tuple[float, str] | None:
        """The paper's own ± and what it is (``95% CI`` or ``sd``), or None where it gives none."""
        if self.ci95 is not None:
            return self.ci95, "95% CI"
        if self.std is not None:
            return self.std, "sd"
        return None

    @property
    def text(self) -> str:
        spread = self.spread
        return f"{self.value:g}" + (f" ± {spread[0]:g} ({spread[1]})" if spread else "")

    def matches(self, cell) -> bool:
        """Whether the planned ``cell`` (``metareg.grid.expand.PlannedCell``) is one this value is for."""
        for axis, values in self.axes:
            if axis == "seeds":
                if cell.seed not in values:
                    return False
            elif (cell.parts.get(axis) or "none") not in values:
                return False
        return all(OmegaConf.select(cell.cfg, key, default=_ABSENT) == value for key, value in self.settings)

    def overlaps(self, mean: float, ci95: float | None) -> bool:
        """Whether our interval (mean ± ci95) meets the paper's (value ± its spread); where the paper gives no
        spread, whether ours holds its value; where we have no interval either, whether the two are equal."""
        ours = ci95 or 0.0
        theirs = self.spread[0] if self.spread else 0.0
        return abs(mean - self.value) <= ours + theirs


def parse_paper(data: Any, where: str) -> tuple[PaperValue, ...]:
    """The ``paper:`` block of a suite (``where`` names the suite in errors), checked entry by entry."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(f"{where} paper must be a list of entries, each with where, value and source")
    return tuple(_entry(item, i + 1, where) for i, item in enumerate(data))


def _entry(item: Any, number: int, suite: str) -> PaperValue:
    label = f"{suite} paper entry {number}"
    if not isinstance(item, dict):
        raise ConfigError(f"{label} must be a mapping with keys {', '.join(PAPER_KEYS)}")
    if item.get("name"):
        label += f" ({item['name']!r})"
    check_keys(item, PAPER_KEYS, label)
    for key in ("where", "value", "source"):
        if item.get(key) in (None, ""):
            raise ConfigError(f"{label} has no {key!r}: give where (the cells it is for), value (the published "
                              f"number) and source (authors, year, table or figure)")
    where = item["where"]
    if not isinstance(where, dict) or not where:
        raise ConfigError(f"{label}: 'where' must be a mapping of axes ({', '.join(AXES)}) and settings, e.g. "
                          f"where: {{learner: maml, settings: {{learner: {{maml: {{test_inner_steps: 1}}}}}}}}")
    check_keys(where, WHERE_KEYS, f"{label} where")
    axes = tuple((axis, tuple(parse_seeds(v)) if axis == "seeds" else parse_list(v, axis, f"{label} where: {axis}"))
                 for axis, v in where.items() if axis in AXES)
    settings = where.get("settings") or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{label} where: settings must be a mapping of config keys to values")
    numbers = {key: _number(item.get(key), key, label) for key in ("value", "ci95", "std")}
    for key in ("ci95", "std"):
        if numbers[key] is not None and numbers[key] < 0:
            raise ConfigError(f"{label}: {key} must be at least 0, got {numbers[key]}")
    if numbers["ci95"] is not None and numbers["std"] is not None:
        raise ConfigError(f"{label} gives both ci95 and std: give the one the paper states")
    return PaperValue(str(item.get("name") or f"entry {number}"), axes, tuple(_flatten(settings)), numbers["value"],
                      numbers["ci95"], numbers["std"], str(item["source"]).strip(),
                      str(item.get("protocol") or "").strip())


def _number(value: Any, key: str, label: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{label}: {key} must be a finite number, got {value!r}")
    return float(value)


def match_paper(values: Iterable[PaperValue], cells, where: str, *, strict: bool = True) -> dict[str, PaperValue]:
    """Config hash -> the paper value for that cell, over the planned ``cells``.

    ``strict`` (the suite's own grid): an entry that matches no cell is an error naming the entry. Without it (the
    grid narrowed by selectors given beside the suite), such an entry is simply not shown. A cell that two
    entries match is an error either way: the board could show only one of them.
    """
    cells = list(cells)
    found: dict[str, PaperValue] = {}
    for number, value in enumerate(values, 1):
        mine = [cell for cell in cells if value.matches(cell)]
        if not mine and strict:
            raise ConfigError(
                f"{where} paper entry {number} ({value.name!r}) matches no cell of the suite's grid: check its "
                f"where ({_describe(value)}) against the grid's blocks: an axis value or a setting no cell has")
        for cell in mine:
            if cell.hash in found:
                raise ConfigError(f"{where} paper entries {found[cell.hash].name!r} and {value.name!r} both match "
                                  f"{cell.label}: narrow their where so that each cell has one published value")
            found[cell.hash] = value
    return found


def _describe(value: PaperValue) -> str:
    parts = [f"{axis}={','.join(map(str, values))}" for axis, values in value.axes]
    parts += [f"{key}={v!r}" for key, v in value.settings]
    return ", ".join(parts) or "everything"
