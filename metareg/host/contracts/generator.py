"""Generator contract: a model fitted on source domains that synthesises support samples like a few given ones."""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from pathlib import Path

import torch

from metareg.host.contracts.part import Part, check_part_ranges
from metareg.toolkit.tasks import TaskBatch, TaskSpec


class Generator(Part, ABC):
    """Constructed as ``cls(spec, config)``.

    ``fit`` runs once before meta-training; ``augment`` is applied to every batch (meta-train, validation and test)
    before the learner sees it and may read only the support set — query targets are the evaluation's, never the
    generator's.

    The methods grow by keyword arguments only; an implementation may accept any subset of them, and the engine
    passes only those it accepts (``call_accepted``), so a generator written against an older contract keeps
    working:

    - ``fit(..., checkpoint_dir=None, seed=0)``: the results directory to keep fitted weights in (None: keep
      nothing), and the run's seed;
    - ``augment(batch, split="train")``: the split the batch comes from, so a generator can adapt to each task's
      support set at evaluation ("val", "test") and not while the learner meta-trains ("train").
    """

    def __init__(self, spec: TaskSpec, config):
        self.spec = spec
        self.config = config
        check_part_ranges(self, "generator", config)

    @abstractmethod
    def fit(self, benchmark, device: torch.device, progress: bool = True, *, checkpoint_dir: Path | None = None,
            seed: int = 0) -> None:
        """Train on the benchmark's source domains (``benchmark.sample("train", ...)`` only)."""

    @abstractmethod
    def augment(self, batch: TaskBatch, *, split: str = "train") -> TaskBatch:
        """The batch with generated samples appended to each task's support set (query set untouched)."""


def call_accepted(method, *args, **kwargs):
    """Call ``method(*args, **kwargs)`` with only the keyword arguments its signature accepts.

    Why: contracts grow by keyword arguments, and implementations written before an argument existed must not break
    (the rule pluggy applies to hook implementations, applied to a part's methods).
    """
    params = inspect.signature(method).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        names = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        kwargs = {k: v for k, v in kwargs.items() if k in names}
    return method(*args, **kwargs)
