"""A two-domain toy benchmark of shifted Gaussian blobs and loop settings that run it in seconds, for the tests
of the engine's adversary and generator slots."""
from __future__ import annotations

import torch

from metareg.toolkit.tasks import TaskBatch, TaskSpec
import metareg


class ShiftedBlobs(metareg.Benchmark):
    """2-D Gaussian blobs per class; the target domain is the same blobs shifted by +3."""

    name = "shifted-blobs"
    task_kind = "classification"
    default_backbone = "mlp"

    def __init__(self, config):
        super().__init__(config)
        self.spec = TaskSpec("classification", (2,), 2, k_shot=2, n_query=3, n_way=2)

    def sample(self, split, n_tasks, generator):
        centres = torch.randn(n_tasks, 2, 1, 2, generator=generator) * 3
        sx = (centres + 0.3 * torch.randn(n_tasks, 2, 2, 2, generator=generator)).flatten(1, 2)
        qx = (centres + 0.3 * torch.randn(n_tasks, 2, 3, 2, generator=generator)).flatten(1, 2)
        sy = torch.arange(2).repeat_interleave(2).expand(n_tasks, -1)
        qy = torch.arange(2).repeat_interleave(3).expand(n_tasks, -1)
        return TaskBatch(sx, sy, qx, qy)

    def target_pool(self, n, generator):
        return torch.randn(n, 2, generator=generator) + 3.0


TINY_SLOTS = [("train.meta_iterations", 4), ("train.val_every", 0), ("train.test_tasks", 4), ("train.meta_batch_size", 3),
        ("train.target_batch_size", 5)]
