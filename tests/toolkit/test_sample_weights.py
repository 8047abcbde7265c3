"""Weighted support samples in the toolkit: ``task_loss``/``task_losses`` weigh each sample, ``TaskBatchNorm``
weighs its statistics inside ``batch_norm_weights``, and every strategy of ``adapt_tasks`` and ``embed_tasks``
computes the same weighted result. References are plain formulas written here, in float64."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import metareg
from metareg.toolkit.grouped import grouped_forward, learner_layers, stacked
from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import Conv4


def test_the_weighted_loss_is_the_weighted_mean_of_each_samples_loss():
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(7, 4, generator=g, dtype=torch.float64), torch.randint(4, (7,), generator=g)
    w = torch.rand(7, generator=g, dtype=torch.float64)
    each = -logits.log_softmax(-1)[torch.arange(7), y]
    torch.testing.assert_close(metareg.task_loss("classification", logits, y, w), (w * each).sum() / w.sum())
    pred, target = torch.randn(7, 2, generator=g, dtype=torch.float64), torch.randn(7, 2, generator=g,
                                                                                     dtype=torch.float64)
    torch.testing.assert_close(metareg.task_loss("regression", pred, target, w),
                               (w * (pred - target).pow(2).mean(1)).sum() / w.sum())
    torch.testing.assert_close(metareg.task_loss("regression", pred, target, torch.ones(7, dtype=torch.float64)),
                               metareg.task_loss("regression", pred, target))


def test_task_losses_weighs_within_each_task_as_task_loss_does():
    g = torch.Generator().manual_seed(1)
    logits, y = torch.randn(3, 5, 4, generator=g, dtype=torch.float64), torch.randint(4, (3, 5), generator=g)
    w = torch.rand(3, 5, generator=g, dtype=torch.float64)
    per_task = metareg.task_losses("classification", logits, y, w)
    for t in range(3):
        torch.testing.assert_close(per_task[t], metareg.task_loss("classification", logits[t], y[t], w[t]))


def test_batch_norm_at_weight_zero_ignores_the_sample_and_at_one_is_plain():
    norm = metareg.TaskBatchNorm(3).double()
    x = torch.randn(6, 3, 4, 4, dtype=torch.float64)
    with metareg.batch_norm_weights(torch.tensor([1, 1, 1, 1, 0, 0], dtype=torch.float64)):
        weighted = norm(x)
    torch.testing.assert_close(weighted[:4], norm(x[:4]))
    with metareg.batch_norm_weights(torch.ones(6, dtype=torch.float64)):
        torch.testing.assert_close(norm(x), F.batch_norm(x, None, None, training=True, eps=norm.eps))
    assert metareg.toolkit.sample_weights.current_batch_norm_weights() is None  # the block is left as it was


def test_batch_norm_weights_of_the_wrong_length_name_the_problem():
    with metareg.batch_norm_weights(torch.ones(5)), pytest.raises(ValueError, match="5 weights for a batch of 6"):
        metareg.TaskBatchNorm(3)(torch.randn(6, 3, 2, 2))


def _conv_setting():
    torch.manual_seed(0)
    spec = TaskSpec("classification", (1, 16, 16), 3, k_shot=3, n_query=2, n_way=3)
    body = Conv4(spec.input_shape, Conv4.Config(channels=4)).double()
    head = torch.nn.Linear(body.feature_dim, 3).double()
    model = torch.nn.Sequential()
    model.backbone, model.head = body, head
    model.forward = lambda x: head(body(x))
    model.task_layers = lambda: learner_layers(body, head)
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 6, 1, 16, 16, generator=g, dtype=torch.float64)
    y = torch.arange(3).repeat(2).expand(2, 6)
    w = torch.rand(2, 6, generator=g, dtype=torch.float64)
    return spec, model, x, y, w


def test_grouped_batch_norm_weighs_each_task_as_the_loop_does():
    _, model, x, _, w = _conv_setting()
    params = stacked(dict(model.named_parameters()), 2)
    together = grouped_forward(model.task_layers(), params, x, w)
    for t in range(2):
        with metareg.batch_norm_weights(w[t]):
            torch.testing.assert_close(together[t], model(x[t]))


@pytest.mark.parametrize("strategy", ["vmap", "grouped"])
def test_every_strategy_adapts_on_the_weighted_loss_as_the_loop_does(strategy):
    spec, model, x, y, w = _conv_setting()
    results = {}
    for s in ("loop", strategy):
        adapted, before = metareg.adapt_tasks(model, spec.kind, x, y, steps=2, lr=0.3, strategy=s, weight=w)
        grads = torch.autograd.grad(sum(v.sum() for v in adapted.values()), list(model.parameters()))
        results[s] = (adapted, before, grads)
    (a, b, g), (a2, b2, g2) = results["loop"], results[strategy]
    torch.testing.assert_close(b, b2)
    for k in a:
        torch.testing.assert_close(a[k], a2[k])
    for one, two in zip(g, g2):
        torch.testing.assert_close(one, two)
    # the reference: the first step's loss is the weighted loss of the unadapted network, task by task
    for t in range(2):
        with metareg.batch_norm_weights(w[t]):
            torch.testing.assert_close(b[t], metareg.task_loss(spec.kind, model(x[t]), y[t], w[t]))


@pytest.mark.parametrize("strategy", ["vmap", "grouped"])
def test_embed_tasks_weighs_the_support_in_batch_norm_under_every_strategy(strategy):
    _, model, x, y, w = _conv_setting()
    batch = TaskBatch(x, y, x[:, :2].clone(), y[:, :2].clone(), support_weight=w)
    loop = metareg.embed_tasks(model.backbone, batch, "loop")
    other = metareg.embed_tasks(model.backbone, batch, strategy)
    for one, two in zip(loop, other):
        torch.testing.assert_close(one, two)
    weights = torch.cat([w[0], torch.ones(2, dtype=torch.float64)])
    with metareg.batch_norm_weights(weights):
        torch.testing.assert_close(loop[0][0], model.backbone(torch.cat([x[0], batch.query_x[0]]))[:6])
