"""The base of learners that adapt each task by gradient steps: what MAML, Reptile, FineTune and CAVIA share.

Why a base: those learners are the same network (the backbone plus a linear head), the same ``vectorize`` setting
resolved the same way, and, for all but CAVIA, the same "adapt to the support set, then predict the queries"; written
once here, a built-in is its meta-loss alone, and so is a third-party ANIL or Meta-SGD. It sits beside the learner
contract rather than in the toolkit because it subclasses that contract; the steps themselves are the toolkit's
(``adapt_tasks``, ``forward_tasks``).
"""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from metareg.host.contracts.learner import MetaLearner
from metareg.toolkit.functional import Params
from metareg.toolkit.grouped import learner_layers, task_layers
from metareg.toolkit.strategies import adapt_tasks, forward_tasks, resolve_strategy
from metareg.toolkit.tasks import TaskBatch


class GradientLearner(MetaLearner):
    """A meta-learner ``head(backbone(x))`` whose tasks adapt by SGD steps on their support sets.

    A subclass writes ``meta_loss`` (usually on ``adapted_outputs``) and a ``Config`` with ``inner_lr``,
    ``test_inner_steps`` and ``vectorize`` (declared as ``metareg.Choice(*metareg.STRATEGIES)`` in its ranges);
    ``predict`` is then given: ``test_inner_steps`` steps at ``inner_lr`` on each task's support set from the
    meta-learned weights, and the adapted network's query outputs. Every strategy (``loop``, ``vmap``, ``grouped``;
    ``auto`` picks per device and backbone, ``metareg.resolve_strategy``) computes the same numbers.

    Which weights a task adapts is ``inner_parameters()``: all of them by default (MAML). A subclass that returns a
    subset adapts only those and shares the rest across tasks, unchanged by the inner loop and still meta-learned
    through it: ANIL is ``return {k: v for k, v in self.named_parameters() if k.startswith("head.")}``, and works
    under every strategy, grouped included. A support set that carries weights (``TaskBatch.support_weight``:
    generated samples) is adapted on the weighted loss, so a sample of weight 0 changes nothing; a subclass that
    writes its own inner loop should do the same (``adapt_tasks(..., weight=)``, ``task_loss(..., weight)`` and
    ``metareg.batch_norm_weights``). A learner whose tasks share every weight and adapt something else
    (CAVIA's context) sets ``shared_weights = True`` and writes its own inner loop; grouped is then not offered.

    ``vectorize`` stays in the run's identity (``metareg.run.config.identity``), unlike ``train.chunk_threads``,
    although the strategies agree to float round-off. Why: every stored run of MAML, Reptile and CAVIA was hashed
    with it, so leaving it out would orphan them all (their cells would re-run) unless a store migration rewrote
    their ids and checkpoint names (and the board's ``combination_key`` would have to drop it too); and a learner's
    own key is a plugin's, so the host cannot know that a third party's ``vectorize`` is speed only, as it knows its
    own ``train`` section's. ``auto`` is already one row on every machine (the device is read as ``auto`` in the
    identity), so suites leave ``vectorize=auto``, and a row with an explicit strategy is a measurement of it.
    """

    #: every task runs with the same weights (only an input such as a context adapts): no grouped strategy
    shared_weights: ClassVar[bool] = False

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.head = nn.Linear(backbone.feature_dim, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def task_layers(self):
        """The backbone's layers then the head, for the grouped strategy; ``None`` when the backbone has none."""
        return None if task_layers(self.backbone) is None else learner_layers(self.backbone, self.head)

    def strategy(self) -> str:
        """``loop``, ``vmap`` or ``grouped``: the ``vectorize`` setting resolved for this backbone and device."""
        device = next(self.parameters()).device
        return resolve_strategy(self.config.vectorize, self.backbone, device, shared_weights=self.shared_weights)

    def runs_in_threads(self) -> bool:
        """Grouped adapts on autograd's tape alone (no ``torch.func``), so its chunks may run side by side."""
        return self.strategy() == "grouped"

    def inner_parameters(self) -> Params:
        """The weights each task adapts, by name (all of them here); the others are shared by every task."""
        return dict(self.named_parameters())

    def adapted_outputs(self, batch: TaskBatch, params: Params, steps: int, first_order: bool) -> torch.Tensor:
        """Query outputs ``[T, Q, outputs]``, each task's ``params`` adapted with ``steps`` SGD steps at ``inner_lr``
        on its support set, each support sample weighing its ``support_weight`` (in the loss and in batch norm's
        statistics); differentiated through the steps unless ``first_order`` (or ``params`` are detached)."""
        strategy = self.strategy()
        adapted, _ = adapt_tasks(self, self.spec.kind, batch.support_x, batch.support_y, steps=steps,
                                 lr=self.config.inner_lr, strategy=strategy, first_order=first_order, params=params,
                                 weight=batch.support_weight)
        return forward_tasks(self, adapted, batch.query_x, strategy)

    def predict(self, batch: TaskBatch) -> torch.Tensor:
        params = {k: v.detach() for k, v in self.inner_parameters().items()}
        with torch.no_grad():  # the inner loop is still differentiated inside (sgd_steps, tape_sgd_steps)
            return self.adapted_outputs(batch, params, self.config.test_inner_steps, first_order=True)
