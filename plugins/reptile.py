"""Reptile: move the initialisation towards the weights that a few SGD steps on each task reach."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

import metareg
from metareg.toolkit.functional import (STRATEGIES, grouped_forward, learner_layers, per_task, resolve_strategy, sgd_steps,
                                stacked, tape_sgd_steps, task_loss, task_losses)


class Reptile(metareg.MetaLearner):
    """Reptile, the first-order meta-learner of Nichol et al.: θ ← θ + ε · mean_i(φ_i − θ).

    The network is the backbone plus a linear head. For each task of a meta-batch, φ_i is the result of
    ``inner_steps`` plain SGD steps at ``inner_lr`` from θ on the whole task (support and query points pooled:
    Reptile has no train/test split inside a task). All tasks adapt as one ``vmap``-ed computation
    (``vectorize=vmap``), task by task (``loop``), or with per-task weights stacked into grouped convolutions
    (``grouped``, backbones with ``task_layers``); ``auto`` picks per device and backbone as MAML does.

    The engine steps one optimiser on a loss, so ``meta_loss`` returns the surrogate
    ``0.5 · Σ ‖θ − sg(φ̄)‖²`` with φ̄ = mean_i φ_i and ``sg`` stop-gradient: its gradient w.r.t. θ is exactly
    θ − φ̄ = −mean_i(φ_i − θ), so an outer SGD step at learning rate ε is the paper's update (Algorithm 2, batched
    version) to the last bit. The engine's outer optimiser is Adam at ``train.outer_lr``, which the paper suggests
    (Sec. 3: θ − W may be treated as a gradient and fed to an optimiser such as Adam), although its few-shot
    experiments used the plain interpolation with ε annealed linearly from 1 to 0, and Adam (β1 = 0) as the *inner*
    optimiser. No gradient flows through the inner steps (they run on detached weights), so a meta-step costs
    ``inner_steps`` forward/backward passes per task, like first-order MAML.

    The engine logs the surrogate as ``train_loss`` (half the squared length of the meta-step); ``pre_update_loss``
    in the metrics is the task loss of θ itself on the pooled task data, before any inner step.
    ``predict`` fine-tunes θ on each test task's support set with ``test_inner_steps`` steps and predicts its queries.

    Config:
        inner_lr: inner SGD step size (the authors' sine-wave demo: 0.02; the few-shot experiments used Adam with
            lr 0.001 in the inner loop, which this plain-SGD inner loop does not reproduce: 0.1 is this package's
            choice for classification).
        inner_steps: inner SGD steps per task while meta-training (sine demo: 5, one epoch of 50 points in
            minibatches of 10; Omniglot: 5, mini-ImageNet: 8; here full-batch steps on the pooled task).
        test_inner_steps: fine-tuning steps on a test task's support set (sine demo: 32; few-shot: 50).
        vectorize: auto | vmap | loop | grouped.

    References:
        Nichol, Achiam, Schulman. "On First-Order Meta-Learning Algorithms". arXiv:1803.02999, 2018.
        Algorithm 2 (batched Reptile); Table 1 (mini-ImageNet 5-way 1-shot 49.97%, 5-shot 65.99%, with
        transduction, arXiv v3); Table 2 (Omniglot 5-way 1-shot 97.68%, with transduction); the appendix's
        hyper-parameter tables. Batch norm here uses each task's own batch statistics: the transductive setting.
        The sine-wave demo: openai.com/blog/reptile (inner step 0.02, 32 fine-tuning steps at test).

    Example:
        metareg bench --learner reptile --benchmark sinusoid learner.reptile.inner_steps=5
    """

    name = "reptile"

    @dataclass
    class Config:
        inner_lr: float = 0.02
        inner_steps: int = 5
        test_inner_steps: int = 32
        vectorize: str = "auto"

    ranges = {"inner_lr": metareg.Range.above(0),
              "inner_steps": metareg.Range.at_least(1).because("with no inner step the Reptile update is zero"),
              "test_inner_steps": metareg.Range.at_least(0), "vectorize": metareg.Choice(*STRATEGIES)}
    # Omniglot's 5 inner / 50 test iterations; the inner lr is for plain SGD (the paper used Adam at 1e-3 inside)
    presets = {"classification": {"inner_lr": 0.1, "inner_steps": 5, "test_inner_steps": 50}}

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.head = nn.Linear(backbone.feature_dim, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def adapt(self, params, x, y, steps: int):
        """``steps`` SGD steps on one task's ``(x, y)`` from ``params``: the adapted weights and the loss before
        the first step (``None`` when ``steps`` is 0).

        A pure function of its arguments (``metareg.toolkit.functional.sgd_steps``), so ``vmap`` batches it over tasks.
        Call it on detached ``params``: nothing is differentiated through it (Reptile is first order).
        """

        def loss_fn(p):
            loss = task_loss(self.spec.kind, functional_call(self, p, (x,)), y)
            return loss, loss

        return sgd_steps(loss_fn, params, steps, self.config.inner_lr, has_aux=True)

    def _strategy(self) -> str:
        return resolve_strategy(self.config.vectorize, self.backbone, next(self.parameters()).device)

    def grouped_adapt(self, params, x, y, steps: int):
        """``adapt`` for every task at once: ``params`` shared, ``x [T, N, ...]``; returns the adapted weights
        (``[T, ...]`` each) and each task's loss before the first step (``None`` when ``steps`` is 0)."""
        layers = learner_layers(self.backbone, self.head)

        def loss_fn(p):
            losses = task_losses(self.spec.kind, grouped_forward(layers, p, x), y)
            return losses.sum(), losses

        return tape_sgd_steps(loss_fn, stacked(params, len(x)), steps, self.config.inner_lr, has_aux=True)

    def adapted_weights(self, batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """φ_i for every task of ``batch`` (``{name: [tasks, *shape]}``, detached) and each task's loss before."""
        start = {k: v.detach() for k, v in self.named_parameters()}
        names = list(start)
        x = torch.cat([batch.support_x, batch.query_x], dim=1)
        y = torch.cat([batch.support_y, batch.query_y], dim=1)
        steps = self.config.inner_steps
        strategy = self._strategy()

        def one_task(xt, yt):
            adapted, before = self.adapt(start, xt, yt, steps)
            return tuple(adapted[k] for k in names) + (before,)

        with torch.no_grad():  # torch.func.grad inside still differentiates the inner loop
            if strategy == "grouped":
                return self.grouped_adapt(start, x, y, steps)
            *phis, before = per_task(one_task, strategy == "vmap", x, y)
        return dict(zip(names, phis)), before

    #: the meta-loss is 0.5·|θ − mean φ|², whose gradient is Reptile's update and whose value means nothing;
    #: ``pre_update_loss`` (θ's own task loss before the inner steps) is the curve that tells about training
    surrogate_loss = True

    def meta_loss(self, batch):
        phis, before = self.adapted_weights(batch)
        surrogate = sum(0.5 * (p - phis[k].mean(0)).pow(2).sum() for k, p in self.named_parameters())
        return metareg.LearnerOutput(surrogate, {"pre_update_loss": before.mean()})

    def predict(self, batch):
        params = {k: v.detach() for k, v in self.named_parameters()}
        steps = self.config.test_inner_steps
        strategy = self._strategy()

        def adapted_predictions(sx, sy, qx):
            adapted, _ = self.adapt(params, sx, sy, steps)
            return functional_call(self, adapted, (qx,))

        with torch.no_grad():
            if strategy == "grouped":
                adapted, _ = self.grouped_adapt(params, batch.support_x, batch.support_y, steps)
                return grouped_forward(learner_layers(self.backbone, self.head), adapted, batch.query_x)
            return per_task(adapted_predictions, strategy == "vmap", batch.support_x, batch.support_y,
                            batch.query_x)


@metareg.hookimpl
def metareg_register_learners(register):
    register(Reptile)
