"""class-gaussian: per-class means, a prior variance pooled over source classes, and shrinkage towards it."""
from __future__ import annotations

import pytest
import torch

import metareg
from metareg.testing import tiny_batch
from metareg_plugin_example.blobs_shift import BlobsShift
from metareg_plugin_example.class_gaussian import ClassGaussian, within_class_variance


def test_within_class_variance_matches_torch_var_class_by_class():
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    y = torch.tensor([[0, 0, 0, 1, 1, 2, 2, 2, 2], [2, 1, 0, 1, 0, 1, 0, 1, 2]])
    mean, variance, count = within_class_variance(x, y, 3)
    for t in range(2):
        for c in range(3):
            members = x[t][y[t] == c]
            assert count[t, c] == len(members)
            assert torch.allclose(mean[t, c], members.mean(0))
            assert torch.allclose(variance[t, c], members.var(0))


def _fitted(n_per_class=2, **settings):
    bench = BlobsShift(BlobsShift.Config())
    generator = ClassGaussian(bench.spec, ClassGaussian.Config(n_per_class=n_per_class, **settings))
    generator.fit(bench, torch.device("cpu"), progress=False)
    return bench, generator


def test_fit_pools_the_within_class_variance_of_source_episodes():
    bench, generator = _fitted(fit_tasks=8)
    batch = bench.sample("train", 8, torch.Generator().manual_seed(0))
    x, y = torch.cat([batch.support_x, batch.query_x], 1), torch.cat([batch.support_y, batch.query_y], 1)
    pooled = torch.stack([x[t][y[t] == c].var(0) for t in range(8) for c in range(5)]).mean(0)
    assert torch.allclose(generator.prior_variance, pooled, atol=1e-6)


def test_one_shot_samples_are_centred_on_the_shot_with_the_prior_variance():
    bench, generator = _fitted(n_per_class=4000)
    batch = bench.sample("test", 1, torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    out = generator.augment(batch)
    for c in range(5):
        drawn = out.support_x[0, 5:][out.support_y[0, 5:] == c]
        assert len(drawn) == 4000
        assert torch.allclose(drawn.mean(0), batch.support_x[0, c], atol=0.02)
        assert torch.allclose(drawn.var(0), generator.prior_variance, rtol=0.1, atol=1e-4)


def test_several_shots_shrink_the_class_variance_towards_the_prior():
    bench = BlobsShift(BlobsShift.Config(k_shot=5))
    generator = ClassGaussian(bench.spec, ClassGaussian.Config(n_per_class=4000, prior_strength=4.0))
    generator.fit(bench, torch.device("cpu"), progress=False)
    batch = bench.sample("val", 1, torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    out = generator.augment(batch)
    for c in range(5):
        own = batch.support_x[0][batch.support_y[0] == c].var(0)
        expected = (4 * own + 4.0 * generator.prior_variance) / (4 + 4.0)
        drawn = out.support_x[0, 25:][out.support_y[0, 25:] == c]
        assert torch.allclose(drawn.var(0), expected, rtol=0.1, atol=1e-4)


def test_regression_is_declined():
    with pytest.raises(metareg.IncompatibleError, match="classification"):
        spec = metareg.TaskSpec("regression", (1,), 1, 5, 5)
        ClassGaussian(spec, ClassGaussian.Config())


def test_augment_keeps_the_support_and_the_query_set():
    batch = tiny_batch("classification")
    spec = metareg.TaskSpec("classification", (5,), 3, 2, 2, n_way=3)
    generator = ClassGaussian(spec, ClassGaussian.Config())
    generator.prior_variance = torch.ones(5)
    out = generator.augment(batch)
    assert torch.equal(out.support_x[:, :6], batch.support_x) and out.support_x.shape == (3, 12, 5)
    assert out.query_x is batch.query_x and out.query_y is batch.query_y
