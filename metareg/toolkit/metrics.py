"""The test metric of each task kind, declared once: its name and which way is better.

The engine picks the validation point it keeps by it, the leaderboard ranks and bolds by it, and ``runs prune
--keep-models best`` keeps the best seed by it; all three read this table. A run's stored metrics may hold other
measurements beside it (the alignment probe's ``probe_domain_accuracy``); ``task_metric_name`` finds the task
metric among them.
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
#: the key of the post-hoc alignment probe's accuracy in a run's metrics (``metareg.run.probe``)
PROBE = "probe_domain_accuracy"
#: metric name -> whether a higher value is better
HIGHER_IS_BETTER = {m.name: m.higher_is_better for m in BY_KIND.values()}


def task_metric_name(metrics: dict | None) -> str | None:
    """The task metric of a run's stored ``metrics`` (``accuracy``, ``mse``, or a third-party task kind's, which
    comes first): the one to rank by, never a diagnostic stored beside it. None without metrics."""
    if not metrics:
        return None
    return next((name for name in metrics if name in HIGHER_IS_BETTER), next(iter(metrics)))
