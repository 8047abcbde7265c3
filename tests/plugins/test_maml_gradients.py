"""MAML's batched (vmap) meta-gradient against an independent per-task loop and against finite differences.

The loop is written here with plain ``torch.autograd.grad`` on an ordinary module call, sharing no code with the
learner's torch.func path, in float64 so that 1e-6 relative agreement is meaningful (float32 noise alone reaches
~1e-3 on Conv4). On torch 2.13, ``F.batch_norm`` under vmap gave second-order meta-gradients ~3% off: these tests
are what would catch such an error in ``TaskBatchNorm``.
"""
from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from metareg.toolkit.functional import task_loss
from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import MLP, Conv4
from metareg_plugins.maml import MAML


def make_maml(backbone_name: str, first_order: bool, vectorize: str = "vmap"):
    torch.manual_seed(0)
    if backbone_name == "mlp":
        spec = TaskSpec("regression", (1,), 1, k_shot=5, n_query=5)
        backbone = MLP(spec.input_shape, MLP.Config(hidden=[16, 16]))
        batch = TaskBatch(torch.randn(4, 5, 1), torch.randn(4, 5, 1), torch.randn(4, 5, 1), torch.randn(4, 5, 1))
    else:
        spec = TaskSpec("classification", (1, 16, 16), 3, k_shot=2, n_query=2, n_way=3)
        backbone = Conv4(spec.input_shape, Conv4.Config(channels=4))
        y = torch.arange(3).repeat_interleave(2).expand(3, 6)
        batch = TaskBatch(torch.randn(3, 6, 1, 16, 16), y, torch.randn(3, 6, 1, 16, 16), y.clone())
    config = MAML.Config(inner_lr=0.1, inner_steps=2, first_order=first_order, vectorize=vectorize)
    model = MAML(backbone, spec, config).double()
    batch = TaskBatch(batch.support_x.double(), batch.support_y if spec.kind == "classification" else
                      batch.support_y.double(), batch.query_x.double(),
                      batch.query_y if spec.kind == "classification" else batch.query_y.double())
    return model, batch


def loop_meta_gradient(model: MAML, batch: TaskBatch) -> list[torch.Tensor]:
    """Plain clone-free reference: per task, differentiate through the inner steps with autograd.grad."""
    cfg, kind = model.config, model.spec.kind
    names, params = zip(*model.named_parameters())
    total = 0.0
    for i in range(len(batch)):
        fast = list(params)
        for _ in range(cfg.inner_steps):
            p = dict(zip(names, fast))
            loss = task_loss(kind, functional_call(model, p, (batch.support_x[i],)), batch.support_y[i])
            grads = torch.autograd.grad(loss, fast, create_graph=not cfg.first_order)
            fast = [w - cfg.inner_lr * g for w, g in zip(fast, grads)]
        p = dict(zip(names, fast))
        total = total + task_loss(kind, functional_call(model, p, (batch.query_x[i],)), batch.query_y[i])
    return list(torch.autograd.grad(total / len(batch), params))


def batched_meta_gradient(model: MAML, batch: TaskBatch) -> list[torch.Tensor]:
    return list(torch.autograd.grad(model.meta_loss(batch).loss, list(model.parameters())))


def relative_error(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    flat_a, flat_b = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
    return ((flat_a - flat_b).norm() / flat_b.norm()).item()


@pytest.mark.parametrize("backbone", ["mlp", "conv4"])
@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
@pytest.mark.parametrize("vectorize", ["vmap", "loop"])
def test_batched_meta_gradient_equals_per_task_loop(backbone, first_order, vectorize):
    model, batch = make_maml(backbone, first_order, vectorize)
    assert relative_error(batched_meta_gradient(model, batch), loop_meta_gradient(model, batch)) < 1e-6


def test_second_and_first_order_differ_so_the_comparison_has_teeth():
    second, batch = make_maml("conv4", first_order=False)
    first, _ = make_maml("conv4", first_order=True)
    assert relative_error(batched_meta_gradient(first, batch), batched_meta_gradient(second, batch)) > 1e-3


def test_second_order_meta_gradient_matches_finite_differences():
    model, batch = make_maml("mlp", first_order=False)
    grads = batched_meta_gradient(model, batch)
    direction = [torch.randn_like(p) for p in model.parameters()]
    analytic = sum((g * d).sum() for g, d in zip(grads, direction)).item()
    eps = 1e-6

    def loss_at(scale: float) -> float:
        with torch.no_grad():
            for p, d in zip(model.parameters(), direction):
                p.add_(scale * d)
            value = model.meta_loss(batch).loss.item()
            for p, d in zip(model.parameters(), direction):
                p.sub_(scale * d)
        return value

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic))
