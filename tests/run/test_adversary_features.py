"""The adversary sees features normalised the way predictions are: one domain batch at a time, never a mix."""
from __future__ import annotations

import torch

from metareg.run.config import parse_overrides, resolve
from metareg.run.engine import Run

from helpers.runs import TINY_DIGITS

TARGET_VALUE = -5.0  # target inputs are marked by a value no source image has


def _run(registry, draw: str = "pool", more: tuple[str, ...] = ()) -> Run:
    settings = parse_overrides([s.replace("benchmark.digits.", "benchmark.digits-shift.") for s in TINY_DIGITS]
                               + ["train.target_batch_size=6", "train.meta_iterations=2",
                                  f"train.target_draw={draw}", *more])
    cfg, selection = resolve(registry, settings, {"learner": "protonet", "benchmark": "digits-shift",
                                                  "adversary": "dann", "device": "cpu"})
    return Run(cfg, selection, registry)


def test_pool_draw_normalises_source_episodes_whole_and_the_target_batch_alone(registry, monkeypatch):
    run = _run(registry, "pool")
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


def test_episode_draw_normalises_each_target_episode_alone_and_weighs_the_domains_equally(registry, monkeypatch):
    run = _run(registry, "episodes")
    calls: list[torch.Tensor] = []
    received: list[tuple[torch.Tensor, torch.Tensor]] = []
    features, adversary = run.learner.features, run.adversary.forward
    monkeypatch.setattr(run.learner, "features", lambda x: calls.append(x.detach().clone()) or features(x))
    monkeypatch.setattr(run.adversary, "forward",
                        lambda s, t, p: received.append((s.detach().clone(), t.detach().clone())) or adversary(s, t, p))
    drawn = []

    def target_episodes(n, size, generator):
        drawn.append((n, size))
        return torch.full((n, size, *run.spec.input_shape), TARGET_VALUE) + torch.arange(n).view(n, 1, 1, 1, 1)

    monkeypatch.setattr(run.benchmark, "target_episodes", target_episodes)
    batch = run._batch("train", 2, torch.Generator().manual_seed(0))
    run._adversary_loss(batch, torch.Generator().manual_seed(1), 0.5)

    episode = batch.support_x.shape[1] + batch.query_x.shape[1]
    assert drawn == [(-(-6 // episode), episode)]  # episodes of the source episodes' size, enough for 6 rows
    target_calls = [x for x in calls if (x < 0).all()]  # marked: TARGET_VALUE + its row, below 0
    assert len(target_calls) == drawn[0][0] and all(len(x) == episode for x in target_calls)
    assert all(len(torch.unique(x)) == 1 for x in target_calls)  # one drawn episode per call, never two mixed
    (source, target), = received
    assert len(source) == len(target) == 6
    with torch.no_grad():
        per_episode = torch.cat([run.learner.backbone(x) for x in target_calls])
    for row in target:  # every target feature is a row of some target episode normalised on its own
        assert torch.isclose(per_episode, row, atol=1e-5).all(1).any()


def test_digits_shift_target_episodes_hold_n_way_pool_digits_in_equal_shares(registry):
    run = _run(registry, "episodes")
    bench = run.benchmark
    rows = bench.target_episodes(3, 10, torch.Generator().manual_seed(0))
    assert rows.shape == (3, 10, *run.spec.input_shape)
    pooled = bench._pool.flatten(1)
    label_of = {i: c for c, idx in bench._pool_classes.items() for i in idx}
    for episode in rows:
        at = [int((pooled == x.flatten()).all(1).nonzero()[0]) for x in episode]  # every input is a pool input
        counts = torch.bincount(torch.tensor([label_of[i] for i in at]))
        assert sorted(counts[counts > 0].tolist()) == [10 // bench.config.n_way] * bench.config.n_way


def test_extra_discriminator_steps_move_only_the_discriminator(registry):
    run = _run(registry, "episodes", ("adversary.dann.discriminator_steps=3",))
    optimiser = run._optimiser(1e-2)
    before_learner = [p.detach().clone() for p in run.learner.parameters()]
    before_adv = [p.detach().clone() for p in run.adversary.parameters()]
    batch = run._batch("train", 2, torch.Generator().manual_seed(0))
    run._discriminator_steps(batch, optimiser, torch.Generator().manual_seed(1), 0.5)
    assert all(torch.equal(a, p) for a, p in zip(before_learner, run.learner.parameters()))
    assert any(not torch.equal(a, p) for a, p in zip(before_adv, run.adversary.parameters()))
    steps = {int(optimiser.state[p]["step"]) for p in run.adversary.parameters()}
    assert steps == {2} and not any(p in optimiser.state for p in run.learner.parameters())


def test_lr_multiplier_gives_the_discriminator_its_own_rate(registry):
    run = _run(registry, "episodes", ("adversary.dann.lr_multiplier=10",))
    groups = run._optimiser(1e-3).param_groups
    assert [g["lr"] for g in groups] == [1e-3, 1e-2]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in run.adversary.parameters()}
    assert len(_run(registry)._optimiser(1e-3).param_groups) == 1  # at 1: one group, the optimiser as before
