"""``metareg.GradientLearner`` is a base a third party can build on: a test-only ANIL (head-only inner loop) written
on it matches an independent computation under every strategy, and FineTune, built on it, honours ``vectorize``.

The references share no code with the base: plain ``torch.autograd.grad`` SGD steps on the head's two tensors, the
body's features computed with the module's own forward, task by task, in float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

import metareg
from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import MLP, Conv4
from metareg_plugins.finetune import FineTune

STEPS, TEST_STEPS, LR = 2, 3, 0.1


class ANIL(metareg.GradientLearner):
    """Almost No Inner Loop: MAML whose inner loop adapts the head alone; the body is meta-learned through it."""

    name = "anil-test"

    @dataclass
    class Config:
        inner_lr: float = LR
        inner_steps: int = STEPS
        test_inner_steps: int = TEST_STEPS
        first_order: bool = False
        vectorize: str = "auto"

    ranges = {"vectorize": metareg.Choice(*metareg.STRATEGIES)}

    def inner_parameters(self):
        return {k: v for k, v in self.named_parameters() if k.startswith("head.")}

    def meta_loss(self, batch):
        out = self.adapted_outputs(batch, self.inner_parameters(), self.config.inner_steps, self.config.first_order)
        return metareg.LearnerOutput(metareg.task_losses(self.spec.kind, out, batch.query_y).mean())


def _setting(backbone: str):
    torch.manual_seed(0)
    if backbone == "mlp":
        spec = TaskSpec("regression", (1,), 1, k_shot=5, n_query=5)
        body = MLP(spec.input_shape, MLP.Config(hidden=[16, 16]))
        batch = TaskBatch(*(torch.randn(3, 5, 1, dtype=torch.float64) for _ in range(4)))
    else:
        spec = TaskSpec("classification", (1, 16, 16), 3, k_shot=2, n_query=2, n_way=3)
        body = Conv4(spec.input_shape, Conv4.Config(channels=4))
        y = torch.arange(3).repeat_interleave(2).expand(2, 6)
        batch = TaskBatch(torch.randn(2, 6, 1, 16, 16, dtype=torch.float64), y,
                          torch.randn(2, 6, 1, 16, 16, dtype=torch.float64), y.clone())
    return spec, body, batch


def _head_steps(model, x, y, steps: int, create_graph: bool):
    """The head after ``steps`` plain SGD steps on one task with the body frozen (its features fixed)."""
    features = model.backbone(x)
    w, b = model.head.weight, model.head.bias
    for _ in range(steps):
        loss = metareg.task_loss(model.spec.kind, features @ w.T + b, y)
        gw, gb = torch.autograd.grad(loss, [w, b], create_graph=create_graph)
        w, b = w - LR * gw, b - LR * gb
    return w, b


@pytest.mark.parametrize("backbone", ["mlp", "conv4"])
@pytest.mark.parametrize("strategy", ["loop", "vmap", "grouped"])
def test_anil_on_the_base_adapts_the_head_alone_and_meta_learns_the_body_through_it(backbone, strategy):
    spec, body, batch = _setting(backbone)
    model = ANIL(body, spec, ANIL.Config(vectorize=strategy)).double()
    assert model.strategy() == strategy

    loss = model.meta_loss(batch).loss
    grads = torch.autograd.grad(loss, list(model.parameters()))
    ref = 0.0
    for t in range(len(batch)):
        w, b = _head_steps(model, batch.support_x[t], batch.support_y[t], STEPS, create_graph=True)
        ref = ref + metareg.task_loss(spec.kind, model.backbone(batch.query_x[t]) @ w.T + b, batch.query_y[t])
    ref = ref / len(batch)
    ref_grads = torch.autograd.grad(ref, list(model.parameters()))
    torch.testing.assert_close(loss, ref)
    for (name, _), g, r in zip(model.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(g, r, msg=lambda m: f"{name}: {m}")
    assert any(g.abs().sum() > 0 for (k, _), g in zip(model.named_parameters(), grads) if k.startswith("backbone."))

    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    predictions = model.predict(batch)
    for t in range(len(batch)):
        w, b = _head_steps(model, batch.support_x[t], batch.support_y[t], TEST_STEPS, create_graph=False)
        with torch.no_grad():
            torch.testing.assert_close(predictions[t], model.backbone(batch.query_x[t]) @ w.T + b)
    assert all(torch.equal(v, before[k]) for k, v in model.named_parameters())  # predicting changes no weight


def test_anil_passes_the_learner_contract_checks(metareg_check):
    import sys
    import types

    module = types.ModuleType("anil_test_plugin")
    module.metareg_register_learners = metareg.hookimpl(lambda register: register(ANIL))
    sys.modules[module.__name__] = module
    try:
        report = metareg_check(module)
    finally:
        del sys.modules[module.__name__]
    assert report.ok and any(p.name == "anil-test" for p in report.parts)


class NoVmapMLP(MLP):
    name = "no-vmap-mlp-test"
    supports_vmap = False


def _finetune(vectorize: str, body_cls=MLP):
    spec, _, batch = _setting("mlp")
    torch.manual_seed(0)
    body = body_cls(spec.input_shape, MLP.Config(hidden=[16, 16]))
    return FineTune(body, spec, FineTune.Config(inner_lr=LR, test_inner_steps=TEST_STEPS,
                                                vectorize=vectorize)).double(), batch


def test_finetune_fine_tunes_alike_under_every_strategy_as_a_plain_loop_of_sgd_steps():
    """FineTune used to hard-code vmap; now its ``vectorize`` setting picks the strategy, and each one is the plain
    computation: every weight stepped on the task's support set, then the queries."""
    reference = None
    for strategy in ("loop", "vmap", "grouped", "auto"):
        model, batch = _finetune(strategy)
        out = model.predict(batch)
        if reference is None:
            names, params = zip(*((k, v.detach()) for k, v in model.named_parameters()))
            reference = []
            for t in range(len(batch)):
                weights = [p.clone().requires_grad_() for p in params]
                for _ in range(TEST_STEPS):
                    pred = torch.func.functional_call(model, dict(zip(names, weights)), (batch.support_x[t],))
                    grads = torch.autograd.grad(metareg.task_loss("regression", pred, batch.support_y[t]), weights)
                    weights = [w - LR * g for w, g in zip(weights, grads)]
                with torch.no_grad():
                    reference.append(torch.func.functional_call(model, dict(zip(names, weights)),
                                                                (batch.query_x[t],)))
            reference = torch.stack(reference)
        torch.testing.assert_close(out, reference, msg=lambda m: f"{strategy}: {m}")


def test_finetune_never_vmaps_a_backbone_that_declares_supports_vmap_false():
    with pytest.raises(metareg.ConfigError, match="NoVmapMLP declares supports_vmap = False"):
        _finetune("vmap", NoVmapMLP)[0].predict(_setting("mlp")[2])
    model, batch = _finetune("auto", NoVmapMLP)
    assert model.strategy() != "vmap"
    assert model.predict(batch).shape == (3, 5, 1)
