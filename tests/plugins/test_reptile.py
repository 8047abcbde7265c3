"""Reptile: one outer SGD step on the surrogate loss is exactly θ + ε·mean_i(φ_i − θ), φ_i from a hand-written loop."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import MLP
from metareg_plugins.reptile import Reptile


def _regression_batch(tasks=3, shots=4, queries=5, generator=None):
    g = generator or torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return TaskBatch(r(tasks, shots, 2), r(tasks, shots, 1), r(tasks, queries, 2), r(tasks, queries, 1))


def _classification_batch(tasks=3, way=3, shots=2, queries=2):
    g = torch.Generator().manual_seed(1)
    x = lambda n: torch.randn(tasks, way * n, 4, generator=g, dtype=torch.float64)  # noqa: E731
    y = lambda n: torch.arange(way).repeat_interleave(n).expand(tasks, -1).clone()  # noqa: E731
    return TaskBatch(x(shots), y(shots), x(queries), y(queries))


def _learner(spec, vectorize, inner_steps=3, inner_lr=0.1, seed=0):
    torch.manual_seed(seed)
    backbone = MLP(spec.input_shape, MLP.Config(hidden=[8, 8]))
    config = Reptile.Config(inner_lr=inner_lr, inner_steps=inner_steps, test_inner_steps=4, vectorize=vectorize)
    return Reptile(backbone, spec, config).double()


def _reference_phi(learner, x, y, kind, steps, lr):
    """Plain SGD on a deep copy of the network, gradients from torch.autograd.grad: one task's φ."""
    model = copy.deepcopy(learner)
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]
    for _ in range(steps):
        out = torch.func.functional_call(model, dict(zip(names, params)), (x,))
        loss = F.mse_loss(out, y) if kind == "regression" else F.cross_entropy(out, y)
        grads = torch.autograd.grad(loss, params)
        params = [(p - lr * g).detach().requires_grad_(True) for p, g in zip(params, grads)]
    return dict(zip(names, (p.detach() for p in params)))


@pytest.mark.parametrize("vectorize", ["vmap", "loop"])
@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_one_outer_sgd_step_is_the_reptile_update(kind, vectorize):
    if kind == "regression":
        spec, batch = TaskSpec("regression", (2,), 1, 4, 5), _regression_batch()
    else:
        spec, batch = TaskSpec("classification", (4,), 3, 2, 2, n_way=3), _classification_batch()
    steps, lr, eps = 3, 0.1, 0.7
    learner = _learner(spec, vectorize, steps, lr)
    theta = {n: p.detach().clone() for n, p in learner.named_parameters()}

    phis = []
    for i in range(len(batch)):
        x = torch.cat([batch.support_x[i], batch.query_x[i]])
        y = torch.cat([batch.support_y[i], batch.query_y[i]])
        phis.append(_reference_phi(learner, x, y, kind, steps, lr))
    expected = {n: theta[n] + eps * torch.stack([phi[n] - theta[n] for phi in phis]).mean(0) for n in theta}

    optimiser = torch.optim.SGD(learner.parameters(), lr=eps)  # what the engine does, with SGD for Adam
    out = learner.meta_loss(batch)
    optimiser.zero_grad(set_to_none=True)
    out.loss.backward()
    optimiser.step()

    assert "pre_update_loss" in out.metrics
    for n, p in learner.named_parameters():
        assert not torch.equal(p.detach(), theta[n]), n  # the step moved every tensor
        torch.testing.assert_close(p.detach(), expected[n], rtol=0, atol=1e-10, msg=n)


def test_pre_update_loss_is_the_loss_of_theta_on_the_pooled_task():
    spec, batch = TaskSpec("regression", (2,), 1, 4, 5), _regression_batch()
    learner = _learner(spec, "vmap")
    with torch.no_grad():
        x = torch.cat([batch.support_x, batch.query_x], 1)
        y = torch.cat([batch.support_y, batch.query_y], 1)
        per_task = torch.stack([F.mse_loss(learner(x[i]), y[i]) for i in range(len(batch))])
    torch.testing.assert_close(learner.meta_loss(batch).metrics["pre_update_loss"], per_task.mean())


def test_predict_fine_tunes_on_the_support_set_only_and_leaves_theta():
    spec, batch = TaskSpec("regression", (2,), 1, 4, 5), _regression_batch()
    learner = _learner(spec, "vmap")
    before = copy.deepcopy(learner.state_dict())
    predictions = learner.predict(batch)
    assert predictions.shape == (3, 5, 1)
    for i in range(len(batch)):
        phi = _reference_phi(learner, batch.support_x[i], batch.support_y[i], "regression", 4, 0.1)
        expected = torch.func.functional_call(learner, phi, (batch.query_x[i],))
        torch.testing.assert_close(predictions[i], expected.detach(), rtol=0, atol=1e-10)
    for k, v in learner.state_dict().items():
        assert torch.equal(v, before[k])


def test_zero_inner_steps_is_a_config_error():
    import metareg

    spec = TaskSpec("regression", (2,), 1, 4, 5)
    with pytest.raises(metareg.ConfigError, match="inner_steps"):
        Reptile(MLP((2,), MLP.Config(hidden=[4])), spec, Reptile.Config(inner_steps=0))


def test_reptiles_surrogate_is_not_logged_as_a_meta_training_loss(run_cli):
    """Its value is meaningless (0 at every step), so the board must not plot it beside real losses."""
    from metareg.store.database import Store

    code, _, err = run_cli("bench", "--learner", "reptile", "--quiet", "train.meta_iterations=3", "train.val_every=0",
                           "train.test_tasks=4")
    assert code == 0, err
    [row] = Store(__import__("os").environ["METAREG_STORE"]).runs()
    [entry] = row.history
    assert "train_loss" not in entry and "surrogate_loss" in entry and "pre_update_loss" in entry
