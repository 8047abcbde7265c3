"""Reptile: move the initialisation towards the weights that a few SGD steps on each task reach."""
from __future__ import annotations

from dataclasses import dataclass

import torch

import metareg


class Reptile(metareg.GradientLearner):
    """Reptile, the first-order meta-learner of Nichol et al.: θ ← θ + ε · mean_i(φ_i − θ).

    The network is the backbone plus a linear head (``metareg.GradientLearner``). For each task of a meta-batch,
    φ_i is the result of ``inner_steps`` plain SGD steps at ``inner_lr`` from θ on the whole task (support and
    query points pooled: Reptile has no train/test split inside a task). All tasks adapt as one ``vmap``-ed
    computation (``vectorize=vmap``), task by task (``loop``), or with per-task weights stacked into grouped
    convolutions (``grouped``, backbones with ``task_layers``); ``auto`` picks per device and backbone as MAML does.

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

    #: metareg tune's space: a decade either side of the sinusoid default 0.02, and the paper's 5-10 inner steps
    #: widened to 1-10 (the paper states no search range)
    search = {"inner_lr": metareg.LogUniform(0.002, 0.2), "inner_steps": metareg.IntUniform(1, 10)}
    ranges = {"inner_lr": metareg.Range.above(0),
              "inner_steps": metareg.Range.at_least(1).because("with no inner step the Reptile update is zero"),
              "test_inner_steps": metareg.Range.at_least(0), "vectorize": metareg.Choice(*metareg.STRATEGIES)}
    # Omniglot's 5 inner / 50 test iterations; the inner lr is for plain SGD (the paper used Adam at 1e-3 inside)
    presets = {"classification": {"inner_lr": 0.1, "inner_steps": 5, "test_inner_steps": 50}}

    def adapted_weights(self, batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """φ_i for every task of ``batch`` (``{name: [tasks, *shape]}``, detached) and each task's loss before.

        Nothing is differentiated through the steps (Reptile is first order), so they start from detached weights.
        A weighted support set (``support_weight``) is weighted in the pooled task's loss, its queries at 1.
        """
        start = {k: v.detach() for k, v in self.inner_parameters().items()}
        x = torch.cat([batch.support_x, batch.query_x], dim=1)
        y = torch.cat([batch.support_y, batch.query_y], dim=1)
        weight = metareg.with_query_weights(batch.support_weight, batch.query_x.shape[1])
        with torch.no_grad():  # the inner loop is still differentiated inside (sgd_steps, tape_sgd_steps)
            return metareg.adapt_tasks(self, self.spec.kind, x, y, steps=self.config.inner_steps,
                                       lr=self.config.inner_lr, strategy=self.strategy(), params=start,
                                       weight=weight)

    #: the meta-loss is 0.5·|θ − mean φ|², whose gradient is Reptile's update and whose value means nothing;
    #: ``pre_update_loss`` (θ's own task loss before the inner steps) is the curve that tells about training
    surrogate_loss = True

    def meta_loss(self, batch):
        phis, before = self.adapted_weights(batch)
        surrogate = sum(0.5 * (p - phis[k].mean(0)).pow(2).sum() for k, p in self.inner_parameters().items())
        return metareg.LearnerOutput(surrogate, {"pre_update_loss": before.mean()})


@metareg.hookimpl
def metareg_register_learners(register):
    register(Reptile)
