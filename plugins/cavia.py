"""CAVIA: adapt only a small context vector per task; meta-learn the network's weights through that adaptation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

import metareg
from metareg import INIT_SCHEMES, kaiming_init, per_task, sgd_steps, task_loss


class CAVIA(metareg.GradientLearner):
    """Fast Context Adaptation via Meta-Learning: the inner loop adapts context parameters only.

    The network is the backbone, conditioned on a context vector φ (the MLP concatenates φ to its input, Conv4
    applies FiLM from φ inside block ``film_block``, between batch norm and ReLU), plus a linear head. For each
    task φ starts at zero and takes ``inner_steps`` gradient steps at ``inner_lr`` on the support loss, with the
    network's weights θ fixed; the meta-loss is the query loss at the adapted φ, differentiated w.r.t. θ through
    the inner steps (second order; ``first_order=true`` drops those terms). θ is never changed per task, so a task's whole adaptation is
    ``context_dim`` numbers. All tasks of a meta-batch adapt as one ``vmap``-ed computation (``vectorize=vmap``), or
    task by task (``loop``); ``auto`` picks per device and backbone as MAML does (on one CPU thread the per-task loop
    was also ~1.5x faster here for Conv4 28x28, even though CAVIA's weights are shared across tasks).

    The context size is a config key: the engine asks ``CAVIA.context_size(config)`` for it before it builds the
    backbone (``context_dim`` on the class is only the regression default, for code that reads the class).
    ``predict`` adapts a fresh zero context to each test task's support set with ``test_inner_steps`` steps and
    predicts its queries.

    Config:
        context_dim: number of context parameters (paper: 5 at the input for sine regression; 100 through FiLM
            after the third conv layer for mini-ImageNet).
        inner_lr: inner-loop step size on the context (paper: 1.0 for both).
        inner_steps: inner steps while meta-training (paper: 1 sine, 2 mini-ImageNet).
        test_inner_steps: inner steps at meta-test (paper: 1 sine, 2 mini-ImageNet: the same as in training).
        first_order: do not differentiate through the inner steps (the reference code's ``--first_order``).
        vectorize: auto | vmap | loop.
        init: the head's initialisation, ``torch`` (PyTorch's default, the regression reference's) or ``kaiming``
            (He-uniform for a linear output, zero bias: the classification reference's ``fc1``).

    Presets (the reference's settings, ``classification/arguments.py`` and ``regression/arguments.py``):
        classification: 100 context parameters, 2 inner steps at lr 1.0 in training and at test; Kaiming
            initialisation of the head (``init``) and of the backbone (``backbone.init``: conv weights for ReLU with
            zero biases, FiLM weights for a linear output), as ``--nn_initialisation kaiming``; the averaged
            meta-gradient clamped elementwise to [-10, 10] (``train.grad_clip=value``, ``classification/main.py``).
        regression: 5 context parameters at the input, 1 step at lr 1.0, PyTorch's default initialisation (the
            regression reference resets nothing), and each task's meta-gradient clamped to [-10, 10] before
            averaging (``train.grad_clip=task_value``, ``regression/cavia.py``).

    References:
        Zintgraf, Shiarlis, Kurin, Hofmann, Whiteson. "Fast Context Adaptation via Meta-Learning". ICML 2019.
        Table 1 (sine regression, CAVIA vs MAML), Table 3 (mini-ImageNet 5-way 1-shot 51.82%, 5-shot 65.85% with
        512 filters; 47.24% / 59.05% with 32). Differences from the reference code: its FiLM is γ·h + β after
        batch norm and pooling, where Conv4 here applies (1 + γ)·h + β after batch norm and before pooling (the
        same function family for γ > −1, since max-pooling commutes with an increasing map; but at a zero context
        the reference's γ is the FiLM bias, about ±0.1, where here the block starts as the identity); the
        reference decays its meta learning rate (``--lr_meta_decay``), the engine's Adam keeps it constant; and
        the reference's 16 tasks per meta-batch and 60,000 updates are the benchmark's budget here.

    Example:
        metareg bench --learner cavia --benchmark sinusoid learner.cavia.context_dim=5
    """

    name = "cavia"
    #: only the context adapts, so every task runs with the same weights (``metareg.GradientLearner``)
    shared_weights = True
    #: the regression default, for readers of the class; the engine uses ``context_size(config)``
    context_dim: ClassVar[int] = 5

    @dataclass
    class Config:
        context_dim: int = 5
        inner_lr: float = 1.0
        inner_steps: int = 1
        test_inner_steps: int = 1
        first_order: bool = False
        vectorize: str = "auto"
        init: str = "torch"

    ranges = {"context_dim": metareg.Range.at_least(1), "inner_lr": metareg.Range.above(0),
              "inner_steps": metareg.Range.at_least(0), "test_inner_steps": metareg.Range.at_least(0),
              "vectorize": metareg.Choice("auto", "vmap", "loop"), "init": metareg.Choice(*INIT_SCHEMES)}
    #: metareg tune's space: a decade either side of the paper's inner lr 1.0, and 1-5 inner steps around its 1 and 2
    #: (the paper states no search range)
    search = {"inner_lr": metareg.LogUniform(0.1, 10.0), "inner_steps": metareg.IntUniform(1, 5)}
    presets = {
        "classification": {"context_dim": 100, "inner_lr": 1.0, "inner_steps": 2, "test_inner_steps": 2,
                           "init": "kaiming", "backbone.init": "kaiming",
                           "train.grad_clip": "value", "train.grad_clip_max": 10.0},
        "regression": {"train.grad_clip": "task_value", "train.grad_clip_max": 10.0},
    }

    @classmethod
    def context_size(cls, config) -> int:
        """The backbone's context size: ``config.context_dim``."""
        return config.context_dim

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        if getattr(backbone, "context_dim", 0) != config.context_dim:
            raise metareg.IncompatibleError(
                f"learner 'cavia' needs a backbone built with context_dim={config.context_dim} "
                f"(CAVIA.context_size(config)), got one with context_dim={getattr(backbone, 'context_dim', 0)}"
            )
        if config.init == "kaiming":
            kaiming_init(self.head, "linear")

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.backbone(x, context))

    def adapt_context(self, support_x, support_y, steps: int, first_order: bool = False, support_weight=None):
        """One task's context after ``steps`` gradient steps from zero on its support loss, and the loss before.

        Only the context moves; the network's weights are read, never written. The gradient is
        ``torch.func.grad`` w.r.t. the context, so outer autograd differentiates the result w.r.t. the weights
        (second order) unless ``first_order`` detaches each step. The loss before is ``None`` when ``steps`` is 0.
        ``support_weight [S]`` weighs each support sample in the loss and in batch norm's statistics.
        """
        context = torch.zeros(self.config.context_dim, dtype=self.head.weight.dtype, device=support_x.device)

        def support_loss(p):
            with metareg.batch_norm_weights(support_weight):
                out = self(support_x, p["context"])
            loss = task_loss(self.spec.kind, out, support_y, support_weight)
            return loss, loss

        adapted, before = sgd_steps(support_loss, {"context": context}, steps, self.config.inner_lr, first_order,
                                    has_aux=True)
        return adapted["context"], before

    def _vectorize(self) -> bool:
        """vmap or a loop: the tasks share the network's weights, so grouped (per-task weight stacks) does not apply."""
        return self.strategy() == "vmap"

    def meta_loss(self, batch):
        steps, first_order = self.config.inner_steps, self.config.first_order

        def query_loss(sx, sy, qx, qy, sw=None):
            context, before = self.adapt_context(sx, sy, steps, first_order, sw)
            loss = task_loss(self.spec.kind, self(qx, context), qy)
            return (loss, context.norm()) if before is None else (loss, context.norm(), before)

        out = per_task(query_loss, self._vectorize(), batch.support_x, batch.support_y, batch.query_x, batch.query_y,
                       *_weights(batch))
        metrics = {"context_norm": out[1].detach().mean()}
        if len(out) > 2:
            metrics["pre_update_support_loss"] = out[2].detach().mean()
        return metareg.LearnerOutput(out[0].mean(), metrics, task_losses=out[0])

    def predict(self, batch):
        steps = self.config.test_inner_steps

        def adapted_predictions(sx, sy, qx, sw=None):
            context, _ = self.adapt_context(sx, sy, steps, True, sw)
            return self(qx, context)

        with torch.no_grad():  # torch.func.grad inside still differentiates the inner loop
            return per_task(adapted_predictions, self._vectorize(), batch.support_x, batch.support_y, batch.query_x,
                            *_weights(batch))


def _weights(batch) -> tuple:
    """The batch's ``support_weight`` as one more per-task argument, or none when it carries no weights."""
    return () if batch.support_weight is None else (batch.support_weight,)


@metareg.hookimpl
def metareg_register_learners(register):
    register(CAVIA)
