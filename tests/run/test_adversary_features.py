"""The adversary sees features normalised the way predictions are: one domain batch at a time, never a mix."""
from __future__ import annotations

import torch

from metareg.run.config import parse_overrides, resolve
from metareg.run.engine import Run

from helpers.runs import TINY_DIGITS

TARGET_VALUE = -5.0  # target inputs are marked by a value no source image has


def _run(registry) -> Run:
    settings = parse_overrides([s.replace("benchmark.digits.", "benchmark.digits-shift.") for s in TINY_DIGITS]
                               + ["train.target_batch_size=6", "train.meta_iterations=2"])
    cfg, selection = resolve(registry, settings, {"learner": "protonet", "benchmark": "digits-shift",
                                                  "adversary": "dann", "device": "cpu"})
    return Run(cfg, selection, registry)


def test_each_features_call_holds_one_domain_and_source_episodes_are_normalised_whole(registry, monkeypatch):
    run = _run(registry)
    calls: list[torch.Tensor] = []
    received: list[tuple[torch.Tensor, torch.Tensor]] = []
    features, adversary = run.learner.features, run.adversary.forward

    def spy_features(x):
        calls.append(x.detach().clone())
        return features(x)

    def spy_adversary(source, target, progress):
        received.append((source.detach().clone(), target.detach().clone()))
        return adversary(source, target, progress)

    monkeypatch.setattr(run.learner, "features", spy_features)
    monkeypatch.setattr(run.adversary, "forward", spy_adversary)
    monkeypatch.setattr(run.benchmark, "target_pool",
                        lambda n, generator: torch.full((n, *run.spec.input_shape), TARGET_VALUE))
    batch = run._batch("train", 2, torch.Generator().manual_seed(0))
    run._adversary_loss(batch, torch.Generator().manual_seed(1), 0.5)

    episode = batch.support_x.shape[1] + batch.query_x.shape[1]
    for x in calls:
        is_target = x == TARGET_VALUE
        assert is_target.all() or not is_target.any(), "one features call mixed source and target inputs"
    source_calls = [x for x in calls if not (x == TARGET_VALUE).any()]
    target_calls = [x for x in calls if (x == TARGET_VALUE).all()]
    assert len(target_calls) == 1 and len(target_calls[0]) == 6
    episodes = torch.cat([batch.support_x, batch.query_x], 1)
    assert source_calls and all(len(x) == episode for x in source_calls)  # whole episodes, one per call
    for i, x in enumerate(source_calls):
        assert torch.equal(x, episodes[i])

    (source, target), = received
    with torch.no_grad():
        per_episode = torch.cat([run.learner.backbone(e) for e in episodes[: len(source_calls)]])
        per_domain_target = run.learner.backbone(target_calls[0])
    assert len(source) == 6
    for row in source:  # every source feature is a row of some episode normalised on its own
        assert torch.isclose(per_episode, row, atol=1e-5).all(1).any()
    assert torch.allclose(target, per_domain_target, atol=1e-5)
