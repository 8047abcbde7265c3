"""Mean and Student-t 95% confidence interval over test episodes, the way few-shot papers report them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Estimate:
    """``ci95`` is the half-width of the interval; None when there is a single value (no interval exists)."""

    mean: float
    ci95: float | None
    n: int

    def as_dict(self) -> dict:
        return {"mean": self.mean, "ci95": self.ci95, "n": self.n}

    def format(self, digits: int = 3, scale: float = 1.0) -> str:
        if self.ci95 is None:
            return f"{self.mean * scale:.{digits}f} (n={self.n})"
        return f"{self.mean * scale:.{digits}f} ± {self.ci95 * scale:.{digits}f} (n={self.n})"


def mean_ci95(values: Sequence[float]) -> Estimate:
    """Mean and half-width t_{0.975, n-1} · s / sqrt(n)."""
    from scipy.stats import t  # scipy comes with scikit-learn

    n = len(values)
    if n == 0:
        raise ValueError("no values to summarise")
    mean = math.fsum(values) / n
    if n == 1:
        return Estimate(mean, None, 1)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Estimate(mean, float(t.ppf(0.975, n - 1)) * math.sqrt(var / n), n)
