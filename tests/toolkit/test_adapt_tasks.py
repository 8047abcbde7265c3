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
