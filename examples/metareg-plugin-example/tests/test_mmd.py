"""Kernel MMD: the estimate from kernel matrices, zero for one set, small within a distribution, large across a shift."""
from __future__ import annotations

import math

import torch

from metareg_plugin_example.mmd import MMD, median_heuristic, mmd2


def _direct_mmd2(source, target, widths):
    """MMD²_b from the three kernel matrices, entry by entry, with the kernel written out."""
    def k(a, b):
        d2 = sum((x - y) ** 2 for x, y in zip(a.tolist(), b.tolist()))
        return sum(math.exp(-d2 / w) for w in widths.tolist()) / len(widths)

    def mean_k(xs, ys):
        return sum(k(a, b) for a in xs for b in ys) / (len(xs) * len(ys))

    return mean_k(source, source) + mean_k(target, target) - 2 * mean_k(source, target)


def _samples(n, shift=0.0, seed=0):
    return shift + torch.randn(n, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_mmd2_equals_the_direct_computation_from_kernel_matrices():
    source, target = _samples(7), _samples(5, shift=0.7, seed=1)
    widths = torch.tensor([0.5, 2.0, 8.0], dtype=torch.float64)
    assert abs(mmd2(source, target, widths).item() - _direct_mmd2(source, target, widths)) < 1e-12


def test_median_heuristic_is_the_median_off_diagonal_squared_distance():
    x = _samples(6)
    d2 = sorted(float(((x[i] - x[j]) ** 2).sum()) for i in range(6) for j in range(6) if i != j)
    assert abs(median_heuristic(x).item() - d2[(len(d2) - 1) // 2]) < 1e-10  # torch's median is the lower one


def test_mmd_is_zero_for_one_set_small_within_a_distribution_and_larger_under_a_shift():
    adversary = MMD(4, MMD.Config())
    a, b, shifted = _samples(200, seed=0), _samples(200, seed=1), _samples(200, shift=1.0, seed=2)
    assert adversary(a, a, 0.5).loss.item() < 1e-12
    same = adversary(a, b, 0.5).loss.item()
    across = adversary(a, shifted, 0.5).loss.item()
    assert same < 0.02 < 0.1 < across


def test_weight_scales_the_loss_and_not_the_reported_statistic():
    a, b = _samples(20), _samples(20, shift=1.0, seed=1)
    one, three = MMD(4, MMD.Config(weight=1.0))(a, b, 0.0), MMD(4, MMD.Config(weight=3.0))(a, b, 0.0)
    assert torch.allclose(three.loss, 3 * one.loss) and torch.equal(one.metrics["mmd2"], three.metrics["mmd2"])


def test_descending_the_loss_moves_source_features_onto_the_target():
    source = _samples(64).clone().requires_grad_()
    target = _samples(64, shift=2.0, seed=1)
    adversary = MMD(4, MMD.Config())
    optimiser = torch.optim.SGD([source], lr=100.0)  # each sample's gradient is O(1/N): a large step size
    gap = (source.mean(0) - target.mean(0)).norm().item()
    start = adversary(source, target, 1.0).loss.item()
    for _ in range(100):
        optimiser.zero_grad()
        adversary(source, target, 1.0).loss.backward()
        optimiser.step()
    assert (source.mean(0) - target.mean(0)).norm().item() < 0.25 * gap
    assert adversary(source, target, 1.0).loss.item() < 0.1 * start
