"""Every built-in learner weighs a support sample by its ``support_weight``, in its loss and in batch norm.

Two invariants, for the six built-in learners under every strategy each offers, in float64 on Conv4 (which has
batch norm, so a sample that entered the statistics unweighted would show):

- samples appended at weight 0 (what a generator with ``aug_weight=0`` adds) change neither the predictions nor
  the meta-gradients;
- a sample of weight 2 is that sample twice at weight 1, which a learner that ignored the weights (or weighed
  them anywhere but in the mean, the statistics and the class means) would fail.
"""
from __future__ import annotations

import pytest
import torch

from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import Conv4
from metareg_plugins.cavia import CAVIA
from metareg_plugins.finetune import FineTune
from metareg_plugins.maml import MAML
from metareg_plugins.protonet import ProtoNet
from metareg_plugins.reptile import Reptile
from metareg_plugins.versa import Versa

WAYS, QUERIES = 3, 2
SPEC = TaskSpec("classification", (1, 16, 16), WAYS, k_shot=1, n_query=QUERIES, n_way=WAYS)
ALL = ("loop", "vmap", "grouped")
CASES = [(cls, s) for cls in (MAML, Reptile, FineTune, ProtoNet, Versa) for s in ALL] + \
        [(CAVIA, s) for s in ("loop", "vmap")]


def _learner(cls, strategy: str):
    torch.manual_seed(0)
    context = cls.context_size(cls.Config()) if cls is CAVIA else 0
    backbone = Conv4(SPEC.input_shape, Conv4.Config(channels=4), context)
    config = cls.Config(vectorize=strategy)
    if hasattr(config, "inner_steps"):
        config.inner_steps = 2
    if hasattr(config, "test_inner_steps"):
        config.test_inner_steps = 2
    return cls(backbone, SPEC, config).double()


def _batch(tasks: int = 2) -> TaskBatch:
    g = torch.Generator().manual_seed(1)
    y = torch.arange(WAYS).expand(tasks, WAYS)
    qy = torch.arange(WAYS).repeat_interleave(QUERIES).expand(tasks, WAYS * QUERIES)
    image = lambda n: torch.rand(tasks, n, *SPEC.input_shape, generator=g, dtype=torch.float64)  # noqa: E731
    return TaskBatch(image(WAYS), y.clone(), image(WAYS * QUERIES), qy.clone())


def _outcome(learner, batch):
    """Predictions and meta-gradients (by parameter name) on ``batch``."""
    predictions = learner.predict(batch)
    loss = learner.meta_loss(batch).loss
    names = [k for k, p in learner.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [dict(learner.named_parameters())[k] for k in names], allow_unused=True)
    return predictions, {k: g for k, g in zip(names, grads) if g is not None}


def _same(a, b, what: str) -> None:
    (pa, ga), (pb, gb) = a, b
    torch.testing.assert_close(pa, pb, rtol=1e-9, atol=1e-10, msg=f"{what}: predictions differ")
    assert ga.keys() == gb.keys(), what
    for k in ga:
        torch.testing.assert_close(ga[k], gb[k], rtol=1e-8, atol=1e-10, msg=f"{what}: the gradient of {k} differs")


@pytest.mark.parametrize("cls,strategy", CASES, ids=[f"{c.name}-{s}" for c, s in CASES])
def test_samples_at_weight_zero_change_neither_predictions_nor_meta_gradients(cls, strategy):
    batch = _batch()
    g = torch.Generator().manual_seed(2)
    extra = torch.rand(2, 2 * WAYS, *SPEC.input_shape, generator=g, dtype=torch.float64) * 3  # unlike any real one
    extra_y = torch.arange(WAYS).repeat(2).expand(2, 2 * WAYS)
    weight = torch.cat([torch.ones(2, WAYS), torch.zeros(2, 2 * WAYS)], 1).double()
    augmented = batch.with_support(torch.cat([batch.support_x, extra], 1), torch.cat([batch.support_y, extra_y], 1),
                                   weight)
    _same(_outcome(_learner(cls, strategy), batch), _outcome(_learner(cls, strategy), augmented),
          f"{cls.name} {strategy}")
    if strategy == "loop":  # the same samples at weight 1 do change them, so the comparison can fail
        counted = augmented.with_support(augmented.support_x, augmented.support_y, torch.ones_like(weight))
        with pytest.raises(AssertionError):
            _same(_outcome(_learner(cls, strategy), batch), _outcome(_learner(cls, strategy), counted), "weight 1")


#: one strategy per learner: that every strategy weighs alike is the test above and tests/toolkit/test_sample_weights
ONCE = [(cls, "loop") for cls in (MAML, Reptile, FineTune, ProtoNet, Versa, CAVIA)]


@pytest.mark.parametrize("cls,strategy", ONCE, ids=[c.name for c, _ in ONCE])
def test_a_sample_at_weight_two_counts_as_that_sample_twice(cls, strategy):
    batch = _batch()
    doubled = batch.with_support(batch.support_x, batch.support_y,
                                 torch.tensor([[2.0, 1.0, 1.0]]).double().expand(2, WAYS))
    twice = batch.with_support(torch.cat([batch.support_x, batch.support_x[:, :1]], 1),
                               torch.cat([batch.support_y, batch.support_y[:, :1]], 1))
    _same(_outcome(_learner(cls, strategy), doubled), _outcome(_learner(cls, strategy), twice),
          f"{cls.name} {strategy}")
