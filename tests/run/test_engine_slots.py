"""The engine's adversary and generator slots and observer hooks, with tiny test-only parts.

The real DANN and MT-GAN arrive as plugins later; these prove the contract: an adversary's loss is added to the
meta-loss and its gradient reaches the backbone; a generator's samples reach the learner's support set and it never
sees query targets; observers hear a run start and finish.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

import metareg
from metareg.errors import IncompatibleError
from metareg.host.registry import Registry
from metareg.run.config import resolve
from metareg.run.engine import Run
from helpers.slots import ShiftedBlobs, TINY_SLOTS


class MeanGap(metareg.Adversary):
    """Squared distance between the domains' mean features (a simple alignment loss)."""

    name = "mean-gap"

    @dataclass
    class Config:
        weight: float = 1.0

    calls: list = []

    def forward(self, source, target, progress):
        MeanGap.calls.append((source.shape, target.shape, progress))
        gap = (source.mean(0) - target.mean(0)).pow(2).sum()
        return metareg.AdversaryOutput(self.config.weight * gap, {"gap": gap.detach()})


class Duplicator(metareg.Generator):
    """Appends a noisy copy of each support sample; records what it was given."""

    name = "duplicator"
    seen: list = []

    def fit(self, benchmark, device, progress=True):
        Duplicator.seen.append("fit")

    def augment(self, batch):
        Duplicator.seen.append(batch.support_x.shape[1])
        extra = batch.support_x + 0.01 * torch.randn_like(batch.support_x)
        return batch.with_support(torch.cat([batch.support_x, extra], 1), torch.cat([batch.support_y] * 2, 1))


class Observer:
    events: list = []

    @metareg.hookimpl
    def metareg_run_started(self, config):
        Observer.events.append(("started", config.run.learner))

    @metareg.hookimpl
    def metareg_run_finished(self, config, result):
        Observer.events.append(("finished", result.status))


class TestParts:
    @metareg.hookimpl
    def metareg_register_benchmarks(self, register):
        register(ShiftedBlobs)

    @metareg.hookimpl
    def metareg_register_adversaries(self, register):
        register(MeanGap)

    @metareg.hookimpl
    def metareg_register_generators(self, register):
        register(Duplicator)


@pytest.fixture
def toy_registry():
    registry = Registry.load(warn=False)
    assert registry.add_plugin(TestParts(), "test-parts")
    assert registry.add_plugin(Observer(), "observer")
    return registry


def test_adversary_loss_is_added_and_its_gradient_reaches_the_backbone(toy_registry):
    cfg, selection = resolve(toy_registry, TINY_SLOTS, {"learner": "protonet", "benchmark": "shifted-blobs",
                                                  "adversary": "mean-gap"})
    run = Run(cfg, selection, toy_registry)
    batch = run.benchmark.sample("train", 3, torch.Generator().manual_seed(0))
    adv = run._adversary_loss(batch, torch.Generator().manual_seed(1), 0.5)
    assert adv.loss.item() > 0
    grads = torch.autograd.grad(adv.loss, list(run.learner.backbone.parameters()))
    assert all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)

    MeanGap.calls.clear()
    result = run.execute(progress=False)
    assert result.status == "done"
    assert [c[2] for c in MeanGap.calls] == [0.0, 1 / 3, 2 / 3, 1.0]  # progress runs 0 -> 1 for schedules
    assert all(s == t == torch.Size([5, 40]) for s, t, _ in MeanGap.calls)
    assert "adversary_gap" in result.history[-1] and "adversary_loss" in result.history[-1]


def test_adversary_weight_changes_training(toy_registry):
    finals = []
    for weight in (0.0, 10.0):
        cfg, selection = resolve(toy_registry, TINY_SLOTS + [("adversary.mean-gap.weight", weight)],
                                 {"learner": "protonet", "benchmark": "shifted-blobs", "adversary": "mean-gap"})
        run = Run(cfg, selection)
        run.execute(progress=False)
        finals.append([p.detach().clone() for p in run.learner.parameters()])
    assert any(not torch.equal(a, b) for a, b in zip(*finals))


def test_adversary_needs_a_target_domain(toy_registry):
    cfg, selection = resolve(toy_registry, [], {"learner": "maml", "benchmark": "sinusoid", "adversary": "mean-gap"})
    with pytest.raises(IncompatibleError, match="no target domain"):
        Run(cfg, selection)


def test_generator_is_fitted_then_augments_every_support_set(toy_registry):
    Duplicator.seen.clear()
    cfg, selection = resolve(toy_registry, TINY_SLOTS, {"learner": "protonet", "benchmark": "shifted-blobs",
                                                  "generator": "duplicator"})
    result = Run(cfg, selection).execute(progress=False)
    assert result.status == "done"
    assert Duplicator.seen[0] == "fit" and set(Duplicator.seen[1:]) == {4}  # 4 train + 1 test batches, 2-way 2-shot


def test_observers_hear_run_start_and_finish_after_the_store_commit(toy_registry, tmp_path):
    from metareg.store.database import Store

    store = Store(tmp_path)
    seen_in_store = []

    class Checker:
        @metareg.hookimpl
        def metareg_run_finished(self, config, result):
            seen_in_store.append(store.get(result.run_id).status)

    toy_registry.add_plugin(Checker(), "checker")
    Observer.events.clear()
    cfg, selection = resolve(toy_registry, TINY_SLOTS, {"learner": "protonet", "benchmark": "shifted-blobs"})
    Run(cfg, selection, toy_registry).execute(progress=False, store=store)
    assert Observer.events == [("started", "protonet"), ("finished", "done")]
    assert seen_in_store == ["done"]


def test_failing_observer_is_a_warning_not_a_lost_run(toy_registry):
    class Broken:
        @metareg.hookimpl
        def metareg_run_started(self, config):
            raise RuntimeError("tracker offline")

    toy_registry.add_plugin(Broken(), "broken-observer")
    cfg, selection = resolve(toy_registry, TINY_SLOTS, {"learner": "protonet", "benchmark": "shifted-blobs"})
    with pytest.warns(RuntimeWarning, match="tracker offline"):
        result = Run(cfg, selection, toy_registry).execute(progress=False)
    assert result.status == "done"
