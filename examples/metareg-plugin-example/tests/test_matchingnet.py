"""Matching Networks: attention is a softmax over cosine similarities, class probabilities are attention mass."""
from __future__ import annotations

import math

import pytest
import torch

import metareg
from metareg.testing import tiny_batch
from metareg_plugin_example.matchingnet import MatchingNet


class Flatten(metareg.Backbone):
    """The inputs themselves as features, so the tests see the learner's arithmetic alone."""

    name = "flatten"

    def __init__(self, input_shape, config=None, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        self.feature_dim = math.prod(self.input_shape)

    def forward(self, x, context=None):
        return x.flatten(1)


def _learner(batch, scale=1.0):
    spec = metareg.TaskSpec("classification", tuple(batch.support_x.shape[2:]), 3, 2, 2, n_way=3)
    return MatchingNet(Flatten(spec.input_shape), spec, MatchingNet.Config(scale=scale))


def test_attention_is_a_softmax_over_cosine_similarities_as_a_plain_loop_computes_it():
    batch = tiny_batch("classification", n_tasks=2)
    learner = _learner(batch, scale=3.0)
    support, query = learner.embed(batch)
    attention = learner.attention(support, query).exp()
    for t in range(2):
        for q in range(query.shape[1]):
            cosines = []
            for i in range(support.shape[1]):
                a, b = query[t, q].tolist(), support[t, i].tolist()
                dot = sum(x * y for x, y in zip(a, b))
                cosines.append(3.0 * dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))))
            total = sum(math.exp(c) for c in cosines)
            expected = [math.exp(c) / total for c in cosines]
            assert torch.allclose(attention[t, q], torch.tensor(expected), atol=1e-6)


def test_class_probabilities_are_the_attention_mass_on_each_class_support_samples():
    batch = tiny_batch("classification", n_tasks=2)
    learner = _learner(batch)
    support, query = learner.embed(batch)
    attention = learner.attention(support, query).exp()
    probs = learner.log_probs(batch).exp()
    for t in range(2):
        for q in range(query.shape[1]):
            for c in range(3):
                mass = sum(float(attention[t, q, i]) for i in range(support.shape[1]) if batch.support_y[t, i] == c)
                assert abs(float(probs[t, q, c]) - mass) < 1e-6
    assert torch.allclose(probs.sum(-1), torch.ones(2, query.shape[1]))


def test_a_query_equal_to_a_support_sample_is_given_its_class_when_attention_is_sharp():
    batch = tiny_batch("classification", n_tasks=1)
    batch.query_x = batch.support_x.clone()
    batch.query_y = batch.support_y.clone()
    predictions = _learner(batch, scale=100.0).predict(batch)
    assert torch.equal(predictions.argmax(-1), batch.support_y)


def test_meta_loss_is_the_mean_negative_log_probability_of_the_query_classes():
    batch = tiny_batch("classification", n_tasks=2)
    learner = _learner(batch, scale=5.0)
    log_probs = learner.log_probs(batch)
    expected = -sum(float(log_probs[t, q, batch.query_y[t, q]]) for t in range(2) for q in range(log_probs.shape[1]))
    assert abs(learner.meta_loss(batch).loss.item() - expected / (2 * log_probs.shape[1])) < 1e-5


def test_the_toolkits_batched_strategies_give_the_loops_log_probabilities():
    """``vectorize`` comes from metareg's public toolkit (``metareg.embed_tasks``): vmap and the loop agree."""
    from metareg_plugin_example.resnet12 import ResNet12

    torch.manual_seed(0)
    batch = tiny_batch("classification", n_tasks=3, input_shape=(3, 16, 16))
    spec = metareg.TaskSpec("classification", (3, 16, 16), 3, 2, 2, n_way=3)
    backbone = ResNet12(spec.input_shape, ResNet12.Config(channels=[4, 4, 8, 8]))
    out = {}
    for strategy in ("loop", "vmap"):
        learner = MatchingNet(backbone, spec, MatchingNet.Config(scale=10.0, vectorize=strategy))
        out[strategy] = learner.log_probs(batch)
    assert torch.allclose(out["loop"], out["vmap"], atol=1e-5)
    with pytest.raises(metareg.ConfigError, match="vectorize=grouped needs a backbone with task_layers"):
        MatchingNet(backbone, spec, MatchingNet.Config(vectorize="grouped")).log_probs(batch)  # the setting is read
