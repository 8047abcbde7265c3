"""MAML: meta-learn an initialisation from which a few gradient steps on a task's support set fit the task."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import metareg


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
              "test_inner_steps": metareg.Range.at_least(0), "vectorize": metareg.Choice(*metareg.STRATEGIES)}
    presets = {"classification": {"inner_lr": 0.4, "inner_steps": 5, "test_inner_steps": 10}}

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.head = nn.Linear(backbone.feature_dim, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def task_layers(self):
        """The backbone's layers then the head, for the grouped strategy."""
        return metareg.learner_layers(self.backbone, self.head)

    def _strategy(self) -> str:
        return metareg.resolve_strategy(self.config.vectorize, self.backbone, next(self.parameters()).device)

    def runs_in_threads(self) -> bool:
        """Grouped adapts on autograd's tape alone (no ``torch.func``), so its chunks may run side by side."""
        return self._strategy() == "grouped"

    def _adapted_outputs(self, batch, params, steps: int, first_order: bool) -> torch.Tensor:
        """Query outputs ``[T, Q, outputs]``, each task's network adapted with ``steps`` SGD steps on its support set."""
        strategy = self._strategy()
        adapted, _ = metareg.adapt_tasks(self, self.spec.kind, batch.support_x, batch.support_y, steps=steps,
                                         lr=self.config.inner_lr, strategy=strategy, first_order=first_order,
                                         params=params)
        return metareg.forward_tasks(self, adapted, batch.query_x, strategy)

    def meta_loss(self, batch):
        out = self._adapted_outputs(batch, dict(self.named_parameters()), self.config.inner_steps,
                                    self.config.first_order)
        return metareg.LearnerOutput(metareg.task_losses(self.spec.kind, out, batch.query_y).mean())

    def predict(self, batch):
        params = {k: v.detach() for k, v in self.named_parameters()}
        with torch.no_grad():  # the inner loop is still differentiated inside (sgd_steps, tape_sgd_steps)
            return self._adapted_outputs(batch, params, self.config.test_inner_steps, first_order=True)


@metareg.hookimpl
def metareg_register_learners(register):
    register(MAML)
