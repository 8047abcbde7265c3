"""Generator contract: a model fitted on source domains that synthesises support samples like a few given ones."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from metareg.contracts.part import Part
from metareg.tasks import TaskBatch, TaskSpec


class Generator(Part, ABC):
    """Constructed as ``cls(spec, config)``.

    ``fit`` runs once before meta-training; ``augment`` is applied to every batch (meta-train and meta-test) before
    the learner sees it and may read only the support set — query targets are the evaluation's, never the
    generator's.
    """

    def __init__(self, spec: TaskSpec, config):
        self.spec = spec
        self.config = config

    @abstractmethod
    def fit(self, benchmark, device: torch.device, progress: bool = True) -> None:
        """Train on the benchmark's source domains (``benchmark.sample("train", ...)``)."""

    @abstractmethod
    def augment(self, batch: TaskBatch) -> TaskBatch:
        """The batch with generated samples appended to each task's support set."""
