"""Versa: class c's classifier depends only on class c's support set; logits follow q; training lowers the loss."""
from __future__ import annotations

import math

import pytest
import torch

from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import MLP
from metareg_plugins.versa import Versa

WAY, SHOT, QUERY, DIM = 3, 2, 4, 5


def _versa(samples=10, hidden=16, seed=0):
    torch.manual_seed(seed)
    spec = TaskSpec("classification", (DIM,), WAY, SHOT, QUERY, n_way=WAY)
    backbone = MLP(spec.input_shape, MLP.Config(hidden=[12, 12]))
    return Versa(backbone, spec, Versa.Config(hidden=hidden, samples=samples)).double()


def _batch(tasks=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 2 * torch.randn(tasks, WAY, 1, DIM, generator=g, dtype=torch.float64)

    def x(n):
        return (centres + torch.randn(tasks, WAY, n, DIM, generator=g, dtype=torch.float64)).flatten(1, 2)

    def y(n):
        return torch.arange(WAY).repeat_interleave(n).expand(tasks, -1).clone()

    return TaskBatch(x(SHOT), y(SHOT), x(QUERY), y(QUERY))


def _posterior(learner, batch):
    with torch.no_grad():
        support, _ = learner.embed(batch)
        return learner.classifier(support, batch.support_y)


@pytest.mark.parametrize("j", range(WAY))
def test_class_weights_depend_only_on_their_own_class(j):
    learner, batch = _versa(), _batch()
    q = _posterior(learner, batch)
    g = torch.Generator().manual_seed(10 + j)
    altered = batch.support_x.clone()
    mask = batch.support_y == j
    altered[mask] = 5 * torch.randn(int(mask.sum()), DIM, generator=g, dtype=torch.float64)
    q_alt = _posterior(learner, batch.with_support(altered, batch.support_y))
    for key in ("weight_mean", "weight_log_variance", "bias_mean", "bias_log_variance"):
        for c in range(WAY):
            if c == j:
                assert not torch.allclose(q[key][:, c], q_alt[key][:, c]), key  # class j's own changed
            else:
                assert torch.equal(q[key][:, c], q_alt[key][:, c]), (key, c)


def test_permuting_the_support_set_changes_nothing():
    learner, batch = _versa(), _batch()
    q = _posterior(learner, batch)
    perm = torch.randperm(batch.support_x.shape[1], generator=torch.Generator().manual_seed(4))
    q_perm = _posterior(learner, batch.with_support(batch.support_x[:, perm], batch.support_y[:, perm]))
    for key in q:
        torch.testing.assert_close(q_perm[key], q[key], rtol=1e-12, atol=1e-12)


def test_logit_moments_match_sampled_weights():
    """Local reparameterisation: the logits' mean and variance are those of f·w + b with w, b drawn from q."""
    learner, batch = _versa(), _batch(tasks=1)
    with torch.no_grad():
        support, query = learner.embed(batch)
        q = learner.classifier(support, batch.support_y)
        mean, var = learner.logit_moments(query, q)
        g = torch.Generator().manual_seed(0)
        n = 200_000
        w = q["weight_mean"] + q["weight_log_variance"].mul(0.5).exp() * torch.randn(
            n, *q["weight_mean"].shape, generator=g, dtype=torch.float64)  # [n, T, N, F]
        b = q["bias_mean"] + q["bias_log_variance"].mul(0.5).exp() * torch.randn(
            n, *q["bias_mean"].shape, generator=g, dtype=torch.float64)
        logits = torch.einsum("tqf,ktnf->ktqn", query, w) + b.unsqueeze(2)
    torch.testing.assert_close(logits.mean(0), mean, rtol=0, atol=6 * (var / n).sqrt().max().item())
    torch.testing.assert_close(logits.var(0), var, rtol=0.03, atol=0)


def test_loss_is_the_predictive_log_likelihood_and_predict_returns_log_probabilities():
    learner, batch = _versa(samples=7), _batch()
    torch.manual_seed(1)
    out = learner.meta_loss(batch)
    torch.manual_seed(1)
    log_probs = learner.sampled_log_probs(batch)  # the same draws
    assert log_probs.shape == (7, 2, WAY * QUERY, WAY)
    likelihood = log_probs.exp().gather(-1, batch.query_y.expand(7, -1, -1).unsqueeze(-1)).squeeze(-1)
    expected = -likelihood.mean(0).log().mean()
    torch.testing.assert_close(out.loss.detach(), expected, rtol=1e-12, atol=0)

    predictions = learner.predict(batch)
    assert predictions.shape == (2, WAY * QUERY, WAY)
    torch.testing.assert_close(predictions.exp().sum(-1), torch.ones(2, WAY * QUERY, dtype=torch.float64))


def test_loss_decreases_on_a_fixed_batch():
    learner, batch = _versa(), _batch()
    optimiser = torch.optim.Adam(learner.parameters(), lr=1e-2)
    torch.manual_seed(0)
    losses = []
    for _ in range(50):
        loss = learner.meta_loss(batch).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert math.isfinite(last) and last < 0.5 * first, (first, last)
    accuracy = (learner.predict(batch).argmax(-1) == batch.query_y).double().mean()
    assert accuracy > 0.9
