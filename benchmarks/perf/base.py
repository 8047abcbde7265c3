"""What every implementation of a meta-step is given (``Case``) and must offer (``Stepper``).

Why one small interface: the harness times, checks and measures memory of every implementation through the same
three lines (zero the gradients, ``backward(batch)``, optimiser step), so no implementation gets a different loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from benchmarks.perf.workloads import Workload
from metareg.toolkit.tasks import TaskBatch

#: learner keys the harness knows: the gradient-based ones and ProtoNet
LEARNERS = ("maml", "fomaml", "reptile", "cavia", "protonet")


class Unsupported(Exception):
    """This implementation does not cover this learner, workload or option (the table says why)."""


@dataclass
class Case:
    """One learner on one workload: the initial weights (metareg's parameter order) and where they live."""

    workload: Workload
    learner: str
    weights: list[torch.Tensor]
    device: torch.device
    dtype: torch.dtype
    compile: bool = False


class Stepper(Protocol):
    """One implementation built for a ``Case``.

    ``params`` are its meta-parameters in metareg's order; ``backward(batch)`` adds the meta-gradient of the batch's
    mean meta-loss to their ``.grad`` and returns the loss, detached and still on the device (no host sync).
    """

    params: list[torch.Tensor]

    def backward(self, batch: TaskBatch) -> torch.Tensor: ...
