"""The test metric of each task kind, declared once: its name and which way is better.

The engine picks the validation point it keeps by it, the leaderboard ranks and bolds by it, and ``runs prune
--keep-models best`` keeps the best seed by it; all three read this table.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool


#: task kind (``TaskSpec.kind``) -> its per-task test metric
BY_KIND = {"classification": Metric("accuracy", higher_is_better=True),
           "regression": Metric("mse", higher_is_better=False)}
#: metric name -> whether a higher value is better
HIGHER_IS_BETTER = {m.name: m.higher_is_better for m in BY_KIND.values()}
