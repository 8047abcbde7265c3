"""``adapt_tasks`` and ``forward_tasks`` compute the same adapted weights, losses and meta-gradient under every
strategy, and that is the plain computation: each task's SGD steps written out with ``torch.autograd.grad``."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import metareg

STEPS, LR = 2, 0.1


class Learner(nn.Module):
    """``head(backbone(x))`` with a Conv4-like backbone that offers ``task_layers`` (grouped can run it)."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), metareg.TaskBatchNorm(3), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Flatten())
        # the layers forward applies, then a flatten (the backbones' convention: the head's matmul flattens)
        self.backbone.task_layers = lambda: [(str(i), m) for i, m in enumerate(self.backbone)][:-1]
        self.head = nn.Linear(3 * 2 * 2, 4)

    def forward(self, x):
        return self.head(self.backbone(x))

    def task_layers(self):
        return metareg.learner_layers(self.backbone, self.head)


def _plain(model, x, y, qx, qy):
    """The reference: task by task, each step a ``torch.autograd.grad`` with ``create_graph`` (second order)."""
    names = [k for k, _ in model.named_parameters()]
    total, befores = 0.0, []
    for t in range(len(x)):
        params = dict(model.named_parameters())
        for step in range(STEPS):
            loss = metareg.task_loss("classification", torch.func.functional_call(model, params, (x[t],)), y[t])
            if step == 0:
                befores.append(loss.detach())
            grads = torch.autograd.grad(loss, [params[k] for k in names], create_graph=True)
            params = {k: params[k] - LR * g for k, g in zip(names, grads)}
        out = torch.func.functional_call(model, params, (qx[t],))
        total = total + metareg.task_loss("classification", out, qy[t]) / len(x)
    return total, torch.stack(befores)


@pytest.mark.parametrize("strategy", ["loop", "vmap", "grouped"])
def test_every_strategy_adapts_and_differentiates_like_the_plain_per_task_loop(strategy):
    torch.manual_seed(0)
    model = Learner().double()
    x, qx = torch.randn(3, 5, 1, 4, 4, dtype=torch.float64), torch.randn(3, 6, 1, 4, 4, dtype=torch.float64)
    y, qy = torch.randint(0, 4, (3, 5)), torch.randint(0, 4, (3, 6))
    adapted, before = metareg.adapt_tasks(model, "classification", x, y, steps=STEPS, lr=LR, strategy=strategy)
    out = metareg.forward_tasks(model, adapted, qx, strategy)
    loss = metareg.task_losses("classification", out, qy).mean()
    grads = torch.autograd.grad(loss, list(model.parameters()))
    ref_loss, ref_before = _plain(model, x, y, qx, qy)
    ref_grads = torch.autograd.grad(ref_loss, list(model.parameters()))
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(before, ref_before)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r)
    assert {k: v.shape[0] for k, v in adapted.items()} == {k: 3 for k, _ in model.named_parameters()}


@pytest.mark.parametrize("strategy", ["loop", "vmap", "grouped"])
def test_detached_weights_adapt_first_order_and_come_back_detached(strategy):
    model = Learner().double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = torch.randn(2, 5, 1, 4, 4, dtype=torch.float64), torch.randint(0, 4, (2, 5))
    with torch.no_grad():
        adapted, _ = metareg.adapt_tasks(model, "classification", x, y, steps=1, lr=LR, strategy=strategy,
                                         params=params)
    assert all(not v.requires_grad for v in adapted.values())
    moved = max((adapted[k] - params[k]).abs().max().item() for k in params)
    assert moved > 0


def test_no_steps_gives_every_task_the_starting_weights_and_no_loss_before():
    model = Learner().double()
    x, y = torch.randn(2, 5, 1, 4, 4, dtype=torch.float64), torch.randint(0, 4, (2, 5))
    adapted, before = metareg.adapt_tasks(model, "classification", x, y, steps=0, lr=LR, strategy="loop")
    assert before is None
    for k, v in model.named_parameters():
        assert torch.equal(adapted[k][1], v)


def _plain_head_only(model, x, y, qx, qy):
    """The head-only reference: task by task, the body's features computed once with the model's own weights and
    the head stepped with ``torch.autograd.grad`` (second order), the body never stepped."""
    total = 0.0
    for t in range(len(x)):
        w, b = model.head.weight, model.head.bias
        for _ in range(STEPS):
            loss = metareg.task_loss("classification", model.backbone(x[t]) @ w.T + b, y[t])
            gw, gb = torch.autograd.grad(loss, [w, b], create_graph=True)
            w, b = w - LR * gw, b - LR * gb
        total = total + metareg.task_loss("classification", model.backbone(qx[t]) @ w.T + b, qy[t]) / len(x)
    return total


@pytest.mark.parametrize("strategy", ["loop", "vmap", "grouped"])
def test_a_head_only_inner_loop_adapts_the_head_alone_under_every_strategy_and_reaches_the_body(strategy):
    """ANIL's inner loop: ``params`` holds the head's weights only; the body is shared by every task, untouched by
    the steps, and the meta-gradient still reaches it through them (grouped included)."""
    torch.manual_seed(0)
    model = Learner().double()
    x, qx = torch.randn(3, 5, 1, 4, 4, dtype=torch.float64), torch.randn(3, 6, 1, 4, 4, dtype=torch.float64)
    y, qy = torch.randint(0, 4, (3, 5)), torch.randint(0, 4, (3, 6))
    head = {k: v for k, v in model.named_parameters() if k.startswith("head.")}
    adapted, _ = metareg.adapt_tasks(model, "classification", x, y, steps=STEPS, lr=LR, strategy=strategy,
                                     params=head)
    assert set(adapted) == set(head)
    loss = metareg.task_losses("classification", metareg.forward_tasks(model, adapted, qx, strategy), qy).mean()
    grads = torch.autograd.grad(loss, list(model.parameters()))
    ref = _plain_head_only(model, x, y, qx, qy)
    ref_grads = torch.autograd.grad(ref, list(model.parameters()))
    torch.testing.assert_close(loss, ref)
    for (name, _), g, r in zip(model.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(g, r, msg=lambda m: f"{name}: {m}")
    assert any(g.abs().sum() > 0 for (k, _), g in zip(model.named_parameters(), grads) if k.startswith("backbone."))


@pytest.mark.parametrize("setting", ["loop", "vmap", "grouped", "", None, 1])
def test_per_task_takes_vectorize_as_a_bool_and_names_the_fix_for_anything_else(setting):
    """A strategy name is truthy, so before this check ``per_task(fn, "loop", ...)`` silently ran vmap."""
    with pytest.raises(TypeError, match="vectorize as a bool.*strategy == 'vmap'"):
        metareg.per_task(torch.sin, setting, torch.zeros(2, 3))
    assert torch.equal(metareg.per_task(torch.sin, False, torch.ones(2, 3)), torch.ones(2, 3).sin())
