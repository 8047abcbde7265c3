"""The Student-t 95% interval, and no interval from one value."""
import math

import pytest

from metareg.toolkit.stats import mean_ci95


def test_ci95_is_student_t_half_width():
    est = mean_ci95([0.0, 1.0])
    assert est.mean == 0.5
    assert est.ci95 == pytest.approx(12.7062047 * math.sqrt(0.5) / math.sqrt(2), rel=1e-6)


def test_ci95_large_sample_approaches_normal():
    values = [float(i % 2) for i in range(1000)]
    sd = math.sqrt(sum((v - 0.5) ** 2 for v in values) / 999)
    assert mean_ci95(values).ci95 == pytest.approx(1.9623 * sd / math.sqrt(1000), rel=1e-3)


def test_single_value_has_no_interval():
    est = mean_ci95([0.7])
    assert est.ci95 is None and est.n == 1
    assert "±" not in est.format()
