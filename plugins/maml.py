"""MAML: meta-learn an initialisation from which a few gradient steps on a task's support set fit the task."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

import metareg
from metareg.toolkit.functional import (STRATEGIES, grouped_forward, learner_layers, per_task, resolve_strategy, sgd_steps,
                                stacked, tape_sgd_steps, task_loss, task_losses)


class MAML(metareg.MetaLearner):
    """Model-Agnostic Meta-Learning, second order by default, first order (FOMAML) with ``first_order=true``.

    The network is the backbone plus a linear head. Each task adapts all parameters with ``inner_steps`` SGD steps on
    its support set; the meta-loss is the adapted network's query loss, differentiated through the steps (or not,
    first order). All tasks of a meta-batch adapt as one ``vmap``-ed computation (``vectorize=vmap``), or task by
    task (``loop``); ``auto`` picks per device and backbone.

    Config:
        inner_lr: inner-loop step size (paper: 0.01 sinusoid, 0.4 Omniglot).
        inner_steps: inner steps while meta-training (paper: 1 sinusoid, 1 Omniglot 5-way, 5 mini-ImageNet).
        test_inner_steps: inner steps at meta-test (paper: 10 for both).
        first_order: drop second-order terms (paper's first-order approximation, Sec. 5.2).
        vectorize: auto | vmap | loop | grouped.

    References:
        Finn, Abbeel, Levine. "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks". ICML 2017.
        Table 1 (Omniglot 5-way 1-shot 98.7%), Figure 2 (sinusoid vs. pretrained baseline).

    Example:
        metareg bench --learner maml --benchmark sinusoid learner.maml.first_order=true
    """

    name = "maml"

    @dataclass
    class Config:
        inner_lr: float = 0.01
        inner_steps: int = 1
        test_inner_steps: int = 10
        first_order: bool = False
        vectorize: str = "auto"

    ranges = {"inner_lr": metareg.Range.above(0), "inner_steps": metareg.Range.at_least(0),
              "test_inner_steps": metareg.Range.at_least(0), "vectorize": metareg.Choice(*STRATEGIES)}
    presets = {"classification": {"inner_lr": 0.4, "inner_steps": 5, "test_inner_steps": 10}}

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.head = nn.Linear(backbone.feature_dim, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def adapt(self, params, support_x, support_y, steps: int, first_order: bool):
        """Parameters adapted to one task's support set."""

        def support_loss(p):
            return task_loss(self.spec.kind, functional_call(self, p, (support_x,)), support_y)

        return sgd_steps(support_loss, params, steps, self.config.inner_lr, first_order)

    def _strategy(self) -> str:
        return resolve_strategy(self.config.vectorize, self.backbone, next(self.parameters()).device)

    def _grouped_adapt(self, params, sx, sy, steps: int, first_order: bool):
        """Every task's adapted weights at once (``[T, ...]`` each): the inner loop on the sum of the tasks' support
        losses, whose gradient w.r.t. task t's weights is task t's own gradient."""
        layers = learner_layers(self.backbone, self.head)

        def support_loss(p):
            return task_losses(self.spec.kind, grouped_forward(layers, p, sx), sy).sum()

        return tape_sgd_steps(support_loss, stacked(params, len(sx)), steps, self.config.inner_lr, first_order)

    def meta_loss(self, batch):
        params = dict(self.named_parameters())
        steps, first_order = self.config.inner_steps, self.config.first_order
        strategy = self._strategy()
        if strategy == "grouped":
            adapted = self._grouped_adapt(params, batch.support_x, batch.support_y, steps, first_order)
            out = grouped_forward(learner_layers(self.backbone, self.head), adapted, batch.query_x)
            return metareg.LearnerOutput(task_losses(self.spec.kind, out, batch.query_y).mean())

        def query_loss(sx, sy, qx, qy):
            adapted = self.adapt(params, sx, sy, steps, first_order)
            return task_loss(self.spec.kind, functional_call(self, adapted, (qx,)), qy)

        losses = per_task(query_loss, strategy == "vmap", batch.support_x, batch.support_y, batch.query_x,
                          batch.query_y)
        return metareg.LearnerOutput(losses.mean())

    def predict(self, batch):
        params = {k: v.detach() for k, v in self.named_parameters()}
        steps = self.config.test_inner_steps
        strategy = self._strategy()

        def adapted_predictions(sx, sy, qx):
            adapted = self.adapt(params, sx, sy, steps, first_order=True)
            return functional_call(self, adapted, (qx,))

        with torch.no_grad():  # torch.func.grad inside still differentiates the inner loop
            if strategy == "grouped":
                adapted = self._grouped_adapt(params, batch.support_x, batch.support_y, steps, first_order=True)
                return grouped_forward(learner_layers(self.backbone, self.head), adapted, batch.query_x)
            return per_task(adapted_predictions, strategy == "vmap", batch.support_x, batch.support_y,
                            batch.query_x)


@metareg.hookimpl
def metareg_register_learners(register):
    register(MAML)
