"""Meta-learner contract: a meta-training loss over a batch of tasks, and predictions adapted to a support set."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from metareg.host.contracts.backbone import Backbone
from metareg.host.contracts.part import Part, check_part_ranges
from metareg.toolkit.tasks import TaskBatch, TaskSpec


@dataclass
class LearnerOutput:
    """``loss`` is differentiable w.r.t. the learner's parameters; ``metrics`` are detached scalars for logging.

    ``task_losses`` (optional, ``[tasks]``, differentiable, ``loss`` their mean) lets the engine clip each task's
    meta-gradient before averaging (``train.grad_clip=task_value``, CAVIA's regression reference); a learner
    without it works with every other clipping form.
    """

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)
    task_losses: torch.Tensor | None = None


class MetaLearner(Part, nn.Module, ABC):
    """Owns the backbone it is given (as ``self.backbone``) plus any head or amortisation network of its own.

    Constructed as ``cls(backbone, spec, config)``. The engine meta-trains it by stepping one outer optimiser on
    ``meta_loss(batch).loss`` (plus any adversary loss) over ``parameters()``. A learner whose outer update is not a
    gradient (Reptile) returns a surrogate loss whose gradient is that update. ``context_size(config)`` > 0 asks the
    engine for a backbone that takes a context vector of that size (CAVIA).
    """

    task_kinds: ClassVar[tuple[str, ...]] = ("classification", "regression")
    #: True for a learner whose ``meta_loss`` is a surrogate (its gradient is the update, its value meaningless):
    #: the engine logs it as ``surrogate_loss`` instead of ``train_loss``, so no curve presents it as a loss
    surrogate_loss: ClassVar[bool] = False
    #: True when the meta-loss's gradient is the mean over tasks of gradients that each depend on their own task
    #: only (every built-in): the engine may then backpropagate the meta-batch in chunks of tasks to bound its
    #: memory (``train.task_chunk``, ``metareg.run.chunking``). Set False if yours couples the tasks of a batch.
    task_separable: ClassVar[bool] = True

    @classmethod
    def context_size(cls, config) -> int:
        """Size of the context vector the backbone must accept (0: none); read from the learner's config."""
        return 0

    def __init__(self, backbone: Backbone, spec: TaskSpec, config):
        nn.Module.__init__(self)
        self.backbone = backbone
        self.spec = spec
        self.config = config
        check_part_ranges(self, "learner", config)

    @abstractmethod
    def meta_loss(self, batch: TaskBatch) -> LearnerOutput:
        """The meta-training loss of a batch of tasks (mean over tasks)."""

    @abstractmethod
    def predict(self, batch: TaskBatch) -> torch.Tensor:
        """Adapt to each task's support set and predict its queries: ``[tasks, queries, n_outputs]``."""

    def runs_in_threads(self) -> bool:
        """Whether ``meta_loss`` may run on several threads at once (``train.chunk_threads``, on a CPU).

        True only when it uses no ``torch.func`` transform (``grad``, ``vmap``: their interpreter stack is not
        thread-safe) and changes no state the threads share. The default, False, runs chunks one at a time; MAML
        and Reptile say True under their grouped strategy, which runs on autograd's tape alone.
        """
        return False

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Meta-parameter features of raw inputs ``[N, *input_shape]``; what an adversary aligns across domains.

        The engine calls it on one domain's inputs at a time, never on a mix of source and target, so a backbone
        with per-batch statistics (batch norm) normalises each domain on its own, as when the learner predicts:
        once per source episode (support and query together) and once per batch of target inputs.
        """
        return self.backbone(x)
