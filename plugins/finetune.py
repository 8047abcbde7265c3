"""The transfer baseline MAML is measured against: train one network on all source tasks, fine-tune it per task."""
from __future__ import annotations

from dataclasses import dataclass

import torch

import metareg
from metareg import task_loss


class FineTune(metareg.GradientLearner):
    """Joint training on the pooled support and query points of every source task, then ``test_inner_steps`` SGD
    steps on each test task's support set — the "pretrained" baseline of MAML's Figure 2.

    Regression only: with episode-relabelled classes a jointly trained classifier head has no consistent labels to
    learn; the classification transfer baseline (a classifier over all base classes, Chen et al. 2019) needs global
    labels that the task contract does not expose yet.

    The network is the backbone plus a linear head, and ``predict`` is ``metareg.GradientLearner``'s: the
    fine-tuning runs under any strategy, as MAML's inner loop does. Generated support samples weigh their
    ``support_weight`` in the pooled training loss and in the fine-tuning, as in every gradient learner.

    Config:
        inner_lr: fine-tuning step size (same as MAML's, for a like-for-like comparison).
        test_inner_steps: fine-tuning steps at meta-test.
        vectorize: auto | vmap | loop | grouped.

    References:
        Finn, Abbeel, Levine. ICML 2017, Sec. 5.1 and Figure 2 ("pretrained, step=0.01").

    Example:
        metareg bench --learner finetune --benchmark sinusoid
    """

    name = "finetune"
    task_kinds = ("regression",)

    @dataclass
    class Config:
        inner_lr: float = 0.01
        test_inner_steps: int = 10
        vectorize: str = "auto"

    #: metareg tune's space: the fine-tuning step a decade either side of MAML's 0.01 (the MAML paper tuned its
    #: baseline's step "automatically", without stating the range)
    search = {"inner_lr": metareg.LogUniform(0.001, 0.1)}
    ranges = {"inner_lr": metareg.Range.above(0), "test_inner_steps": metareg.Range.at_least(0),
              "vectorize": metareg.Choice(*metareg.STRATEGIES)}

    def meta_loss(self, batch):
        x = torch.cat([batch.support_x, batch.query_x], dim=1).flatten(0, 1)
        y = torch.cat([batch.support_y, batch.query_y], dim=1).flatten(0, 1)
        weight = metareg.with_query_weights(batch.support_weight, batch.query_x.shape[1])
        weight = None if weight is None else weight.flatten()  # None: the plain loss and statistics, as before
        with metareg.batch_norm_weights(weight):  # a generated support sample weighs as in the loss
            out = self(x)
        return metareg.LearnerOutput(task_loss(self.spec.kind, out, y, weight))


@metareg.hookimpl
def metareg_register_learners(register):
    register(FineTune)
