"""``benchmark.sinusoid.eval_k_shot``: the MAML paper's protocol of one model meta-trained at one K and fine-tuned
at another. Validation and test tasks get that many support points, training tasks keep ``k_shot``, and at its
neutral 0 a run's identity is what it was before the setting existed."""
from __future__ import annotations

import torch

from metareg.run.config import identity, parse_overrides, resolve


def _bench(registry, **config):
    cls = registry.get("benchmark", "sinusoid").cls
    return cls(cls.Config(**config))


def test_validation_and_test_tasks_have_eval_k_shot_support_points_training_tasks_k_shot(registry):
    bench = _bench(registry, k_shot=10, eval_k_shot=5)
    generator = torch.Generator().manual_seed(0)
    assert bench.sample("train", 3, generator).support_x.shape[1] == 10
    for split in ("val", "test"):
        batch = bench.sample(split, 3, generator)
        assert batch.support_x.shape[1] == 5 and batch.query_x.shape[1] == bench.config.eval_query
    assert bench.spec.k_shot == 10  # the spec is the training shape
    assert _bench(registry, k_shot=10).sample("test", 2, generator).support_x.shape[1] == 10


def test_the_shifted_sinusoid_tests_at_eval_k_shot_too(registry):
    cls = registry.get("benchmark", "sinusoid-shift").cls
    bench = cls(cls.Config(k_shot=10, eval_k_shot=5))
    assert bench.sample("test", 2, torch.Generator().manual_seed(0)).support_x.shape[1] == 5


def test_eval_k_shot_at_zero_leaves_a_run_identity_as_it_was(registry):
    def ident(settings):
        cfg, selection = resolve(registry, parse_overrides(settings), {"learner": "maml", "benchmark": "sinusoid"})
        return identity(cfg, selection)["config"]

    before = ident([])
    assert "eval_k_shot" not in before["benchmark"]["sinusoid"]
    assert ident(["benchmark.sinusoid.eval_k_shot=0"]) == before
    assert ident(["benchmark.sinusoid.eval_k_shot=5"])["benchmark"]["sinusoid"]["eval_k_shot"] == 5
