"""Leaderboard selectors as a filter on stored runs, not a grid to resolve.

Why not the grid: ``bench``'s selectors default the axes they leave out (``maml``, ``sinusoid``) and its settings
must match a cell's config exactly, so ``metareg leaderboard --benchmark X`` showed a phantom ``maml`` cell
instead of the runs on X. Here a selector left out matches everything, a given one matches any of its comma list
(``none`` matches no part), and a ``key=value`` setting narrows only the rows it applies to: a part's setting
(``learner.maml.inner_lr=0.4``) only rows with that part, ``train.*`` and ``run.*`` every row.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from metareg.host import families
from metareg.run.config import _flatten

Predicate = Callable[[Any], bool]


def row_filter(axes: dict[str, Sequence[str]], seeds: Sequence[int] | None,
               settings: Iterable[tuple[str, Any]]) -> Predicate:
    """A predicate on a ``RunRow``: its parts in ``axes``, its seed in ``seeds`` and its config at each setting."""
    wanted = {axis: {None if str(v).lower() == "none" else str(v) for v in values} for axis, values in axes.items()}
    settings = list(settings)
    seeds = None if seeds is None else frozenset(seeds)  # `--seeds 0-9999` is tested once per row

    def accepts(row) -> bool:
        for axis, names in wanted.items():
            if getattr(row, axis) not in names:
                return False
        if seeds is not None and row.seed not in seeds:
            return False
        flat = dict(_flatten(row.config or {}))
        for key, value in settings:
            parts = key.split(".")
            if parts[0] in families.NAMES and len(parts) >= 3 and getattr(row, parts[0]) != parts[1]:
                continue  # a setting of a part this row does not have
            if flat.get(key) != value:
                return False
        return True

    return accepts
