"""MAML: meta-learn an initialisation from which a few gradient steps on a task's support set fit the task."""
from __future__ import annotations

from dataclasses import dataclass

import metareg


class MAML(metareg.GradientLearner):
    """Model-Agnostic Meta-Learning, second order by default, first order (FOMAML) with ``first_order=true``.

    The network is the backbone plus a linear head (``metareg.GradientLearner``). Each task adapts all parameters
    with ``inner_steps`` SGD steps on its support set; the meta-loss is the adapted network's query loss,
    differentiated through the steps (or not, first order). All tasks of a meta-batch adapt as one ``vmap``-ed
    computation (``vectorize=vmap``), task by task (``loop``), or with per-task weights stacked into grouped
    convolutions and batched matrix products (``grouped``, backbones with ``task_layers``); ``auto`` picks per
    device and backbone (grouped on a CPU where the backbone offers it, ``metareg.resolve_strategy``).
    ``predict`` adapts to each test task's support set with ``test_inner_steps`` steps and predicts its queries.

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
    #: metareg tune's space: a decade below the paper's sinusoid 0.01 to above its Omniglot 0.4; 1-5 inner steps, the
    #: paper's range (1 for sinusoid and Omniglot, 5 for mini-ImageNet). The paper states no search range.
    search = {"inner_lr": metareg.LogUniform(0.001, 1.0), "inner_steps": metareg.IntUniform(1, 5)}
    presets = {"classification": {"inner_lr": 0.4, "inner_steps": 5, "test_inner_steps": 10}}

    def meta_loss(self, batch):
        out = self.adapted_outputs(batch, self.inner_parameters(), self.config.inner_steps, self.config.first_order)
        return metareg.LearnerOutput(metareg.task_losses(self.spec.kind, out, batch.query_y).mean())


@metareg.hookimpl
def metareg_register_learners(register):
    register(MAML)
