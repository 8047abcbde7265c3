"""The transfer baseline MAML is measured against: train one network on all source tasks, fine-tune it per task."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

import metareg
from metareg import per_task, sgd_steps, task_loss


class FineTune(metareg.MetaLearner):
    """Joint training on the pooled support and query points of every source task, then ``test_inner_steps`` SGD
    steps on each test task's support set — the "pretrained" baseline of MAML's Figure 2.

    Regression only: with episode-relabelled classes a jointly trained classifier head has no consistent labels to
    learn; the classification transfer baseline (a classifier over all base classes, Chen et al. 2019) needs global
    labels that the task contract does not expose yet.

    Config:
        inner_lr: fine-tuning step size (same as MAML's, for a like-for-like comparison).
        test_inner_steps: fine-tuning steps at meta-test.

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

    ranges = {"inner_lr": metareg.Range.above(0), "test_inner_steps": metareg.Range.at_least(0)}

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.head = nn.Linear(backbone.feature_dim, spec.n_outputs)

    def forward(self, x):
        return self.head(self.backbone(x))

    def meta_loss(self, batch):
        x = torch.cat([batch.support_x, batch.query_x], dim=1).flatten(0, 1)
        y = torch.cat([batch.support_y, batch.query_y], dim=1).flatten(0, 1)
        return metareg.LearnerOutput(task_loss(self.spec.kind, self(x), y))

    def predict(self, batch):
        params = {k: v.detach() for k, v in self.named_parameters()}

        def fine_tuned_predictions(sx, sy, qx):
            loss = lambda p: task_loss(self.spec.kind, functional_call(self, p, (sx,)), sy)  # noqa: E731
            tuned = sgd_steps(loss, params, self.config.test_inner_steps, self.config.inner_lr, first_order=True)
            return functional_call(self, tuned, (qx,))

        with torch.no_grad():
            return per_task(fine_tuned_predictions, True, batch.support_x, batch.support_y, batch.query_x)


@metareg.hookimpl
def metareg_register_learners(register):
    register(FineTune)
