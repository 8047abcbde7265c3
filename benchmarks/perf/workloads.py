"""The two workloads of issue 8 and the learner settings the harness runs on them.

Why fixed here rather than read from the benchmarks' configs: a speed table is only comparable across machines and
commits when its workload never moves, so the shapes are the papers' and the data are synthetic (seeded random
episodes of the right shapes cost the same to learn from as real ones, and need no download).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch

from metareg.toolkit.tasks import TaskBatch, TaskSpec


@dataclass(frozen=True)
class Workload:
    """One meta-training setting: task shapes, meta-batch, inner steps and the backbone.

    ``inner_lr`` maps a learner key to its inner step size; ``context_dim`` is CAVIA's context size here.
    """

    name: str
    kind: str
    input_shape: tuple[int, ...]
    n_outputs: int
    support: int  # points per regression task, or shots per class
    query: int  # points per regression task, or queries per class
    meta_batch: int
    inner_steps: int
    backbone: str
    backbone_config: dict = field(default_factory=dict)
    inner_lr: dict = field(default_factory=dict)
    context_dim: int = 0
    description: str = ""

    @property
    def n_way(self) -> int | None:
        return self.n_outputs if self.kind == "classification" else None

    def spec(self) -> TaskSpec:
        return TaskSpec(self.kind, self.input_shape, self.n_outputs, self.support, self.query, n_way=self.n_way)

    def replace(self, **changes) -> "Workload":
        return dataclasses.replace(self, **changes)

    def sample(self, seed: int, tasks: int | None = None, dtype: torch.dtype = torch.float32) -> TaskBatch:
        """``tasks`` (default: the meta-batch) seeded episodes on the CPU, in ``dtype``."""
        g = torch.Generator().manual_seed(seed)
        t = self.meta_batch if tasks is None else tasks
        if self.kind == "regression":  # MAML's sinusoids: amplitude in [0.1, 5], phase in [0, pi], x in [-5, 5]
            amplitude = torch.empty(t, 1, 1).uniform_(0.1, 5.0, generator=g)
            phase = torch.empty(t, 1, 1).uniform_(0.0, math.pi, generator=g)
            sx = torch.empty(t, self.support, 1).uniform_(-5.0, 5.0, generator=g)
            qx = torch.empty(t, self.query, 1).uniform_(-5.0, 5.0, generator=g)
            batch = TaskBatch(sx, amplitude * torch.sin(sx - phase), qx, amplitude * torch.sin(qx - phase))
        else:
            n = self.n_outputs
            sx = torch.randn(t, n * self.support, *self.input_shape, generator=g)
            qx = torch.randn(t, n * self.query, *self.input_shape, generator=g)
            sy = torch.arange(n).repeat_interleave(self.support).expand(t, -1).contiguous()
            qy = torch.arange(n).repeat_interleave(self.query).expand(t, -1).contiguous()
            batch = TaskBatch(sx, sy, qx, qy)
        return cast(batch, dtype)


def cast(batch: TaskBatch, dtype: torch.dtype) -> TaskBatch:
    """Floating tensors of ``batch`` in ``dtype``; class labels stay integers."""
    conv = lambda t: t.to(dtype) if t.is_floating_point() else t  # noqa: E731
    return TaskBatch(conv(batch.support_x), conv(batch.support_y), conv(batch.query_x), conv(batch.query_y))


WORKLOADS = {
    "sinusoid": Workload(
        name="sinusoid", kind="regression", input_shape=(1,), n_outputs=1, support=10, query=10, meta_batch=25,
        inner_steps=1, backbone="mlp", backbone_config={"hidden": [40, 40]},
        inner_lr={"maml": 0.01, "fomaml": 0.01, "reptile": 0.02, "cavia": 1.0}, context_dim=5,
        description="MAML's sinusoid: MLP 40-40, K=10, meta-batch 25, 1 inner step",
    ),
    "conv4": Workload(
        name="conv4", kind="classification", input_shape=(1, 28, 28), n_outputs=5, support=1, query=15,
        meta_batch=32, inner_steps=5, backbone="conv4", backbone_config={"channels": 64},
        inner_lr={"maml": 0.4, "fomaml": 0.4, "reptile": 0.1, "cavia": 1.0}, context_dim=100,
        description="5-way 1-shot Conv4 (64 filters) on 28x28, 15 queries per class, meta-batch 32, 5 inner steps",
    ),
    "conv4-84": Workload(
        name="conv4-84", kind="classification", input_shape=(1, 84, 84), n_outputs=5, support=1, query=15,
        meta_batch=32, inner_steps=5, backbone="conv4", backbone_config={"channels": 64},
        inner_lr={"maml": 0.4, "fomaml": 0.4, "reptile": 0.1, "cavia": 1.0}, context_dim=100,
        description="conv4 at 84x84 (Office-31's and mini-ImageNet's size): ~9x its activations per task",
    ),
}


def tiny(workload: Workload) -> Workload:
    """A seconds-long version of ``workload`` for CI: same code paths, far smaller shapes."""
    if workload.kind == "regression":
        return workload.replace(meta_batch=3, support=4, query=4, backbone_config={"hidden": [8, 8]}, context_dim=2)
    return workload.replace(input_shape=(1, 16, 16), support=1, query=2, meta_batch=2, inner_steps=2,
                            backbone_config={"channels": 4}, context_dim=3, n_outputs=3)
