"""CAVIA: only the context adapts; the batched second-order meta-gradient equals a plain per-task autograd loop."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import metareg
from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import MLP, Conv4
from metareg_plugins.cavia import CAVIA


def _sine_like_batch(tasks=3, shots=5, queries=6):
    g = torch.Generator().manual_seed(0)
    x = lambda n: 4 * torch.rand(tasks, n, 1, generator=g, dtype=torch.float64) - 2  # noqa: E731
    amplitude = 1 + torch.rand(tasks, 1, 1, generator=g, dtype=torch.float64)
    sx, qx = x(shots), x(queries)
    return TaskBatch(sx, amplitude * torch.sin(sx), qx, amplitude * torch.sin(qx))


def _mlp_cavia(vectorize="vmap", context_dim=3, inner_steps=2, inner_lr=0.5, first_order=False):
    torch.manual_seed(0)
    spec = TaskSpec("regression", (1,), 1, 5, 6)
    config = CAVIA.Config(context_dim=context_dim, inner_lr=inner_lr, inner_steps=inner_steps,
                          test_inner_steps=3, first_order=first_order, vectorize=vectorize)
    backbone = MLP(spec.input_shape, MLP.Config(hidden=[8, 8]), context_dim=CAVIA.context_size(config))
    return CAVIA(backbone, spec, config).double()


def _reference_meta_gradient(learner, batch, kind, steps, lr, first_order=False):
    """Per-task loop on a copy of the network: context from zero, autograd.grad(create_graph=True) steps."""
    model = copy.deepcopy(learner)
    params = list(model.parameters())
    losses = []
    for i in range(len(batch)):
        context = torch.zeros(learner.config.context_dim, dtype=torch.float64, requires_grad=True)
        for _ in range(steps):
            out = model.head(model.backbone(batch.support_x[i], context))
            inner = F.mse_loss(out, batch.support_y[i]) if kind == "regression" else F.cross_entropy(
                out, batch.support_y[i])
            (g,) = torch.autograd.grad(inner, context, create_graph=not first_order)
            context = context - lr * g
        out = model.head(model.backbone(batch.query_x[i], context))
        losses.append(F.mse_loss(out, batch.query_y[i]) if kind == "regression" else F.cross_entropy(
            out, batch.query_y[i]))
    loss = torch.stack(losses).mean()
    return loss.detach(), torch.autograd.grad(loss, params)


def _assert_relative_close(got, expected, rtol=1e-6):
    """Each tensor to ``rtol`` of its own size; tensors whose gradient is zero in exact arithmetic (a conv bias
    before batch norm: ~1e-17 here) to ``rtol`` of the largest gradient."""
    floor = max(e.abs().max() for e in expected) * 1e-6
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        scale = torch.maximum(e.abs().max(), floor)
        assert (g - e).abs().max() / scale < rtol


@pytest.mark.parametrize("vectorize", ["vmap", "loop"])
@pytest.mark.parametrize("first_order", [False, True])
def test_meta_gradient_matches_a_per_task_loop_mlp(vectorize, first_order):
    learner, batch = _mlp_cavia(vectorize, first_order=first_order), _sine_like_batch()
    out = learner.meta_loss(batch)
    grads = torch.autograd.grad(out.loss, list(learner.parameters()))
    ref_loss, ref_grads = _reference_meta_gradient(learner, batch, "regression", 2, 0.5, first_order)
    torch.testing.assert_close(out.loss.detach(), ref_loss, rtol=1e-10, atol=0)
    _assert_relative_close(grads, ref_grads)
    assert set(out.metrics) == {"context_norm", "pre_update_support_loss"}


def test_second_order_terms_matter():
    """The first-order and second-order meta-gradients differ, so the test above checks both paths."""
    batch = _sine_like_batch()
    learner_2, learner_1 = _mlp_cavia(), _mlp_cavia(first_order=True)
    g2 = torch.autograd.grad(learner_2.meta_loss(batch).loss, list(learner_2.parameters()))
    g1 = torch.autograd.grad(learner_1.meta_loss(batch).loss, list(learner_1.parameters()))
    assert max((a - b).abs().max() for a, b in zip(g2, g1)) > 1e-6


def test_meta_gradient_matches_a_per_task_loop_conv4_film():
    torch.manual_seed(0)
    spec = TaskSpec("classification", (1, 16, 16), 2, 1, 2, n_way=2)
    config = CAVIA.Config(context_dim=4, inner_lr=1.0, inner_steps=2, vectorize="vmap")
    backbone = Conv4(spec.input_shape, Conv4.Config(channels=4, film_block=3), context_dim=CAVIA.context_size(config))
    learner = CAVIA(backbone, spec, config).double()
    g = torch.Generator().manual_seed(3)
    x = lambda n: torch.randn(2, 2 * n, 1, 16, 16, generator=g, dtype=torch.float64)  # noqa: E731
    y = lambda n: torch.arange(2).repeat_interleave(n).expand(2, -1).clone()  # noqa: E731
    batch = TaskBatch(x(1), y(1), x(2), y(2))
    grads = torch.autograd.grad(learner.meta_loss(batch).loss, list(learner.parameters()))
    _, ref_grads = _reference_meta_gradient(learner, batch, "classification", 2, 1.0)
    _assert_relative_close(grads, ref_grads)


def test_predict_adapts_only_the_context():
    learner, batch = _mlp_cavia(), _sine_like_batch()
    before = copy.deepcopy(learner.state_dict())
    predictions = learner.predict(batch)
    assert predictions.shape == (3, 6, 1)
    for k, v in learner.state_dict().items():
        assert torch.equal(v, before[k]), k  # bit-identical weights
    # the prediction is the network at the adapted context, which moved away from zero
    for i in range(len(batch)):
        context, _ = learner.adapt_context(batch.support_x[i], batch.support_y[i], 3)
        assert context.abs().max() > 0
        torch.testing.assert_close(predictions[i], learner(batch.query_x[i], context).detach(), rtol=1e-10, atol=0)
        assert not torch.allclose(predictions[i], learner(batch.query_x[i]).detach())


def test_context_size_comes_from_config():
    assert CAVIA.context_dim == 5  # class fallback
    assert CAVIA.context_size(CAVIA.Config()) == 5
    assert CAVIA.context_size(CAVIA.Config(context_dim=100)) == 100
    assert CAVIA.presets["classification"]["context_dim"] == 100
    spec = TaskSpec("regression", (1,), 1, 5, 6)
    with pytest.raises(metareg.IncompatibleError, match="context_dim=7"):
        CAVIA(MLP((1,), MLP.Config(hidden=[4]), context_dim=5), spec, CAVIA.Config(context_dim=7))
