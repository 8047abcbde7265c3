"""The tiny, learnable inputs the runtime checks feed to parts, and helpers to compare what comes back.

Why these and not a built-in benchmark or backbone: the checks must hold for any installation (``metareg`` alone,
with none of its own plugins loaded) and finish in well under a second per part, so they bring their own task
source and feature extractor. Both are honest parts that pass their own family's checks (tests/host/test_conformance.py
pins that): the classification probe draws Gaussian classes, the regression probe random sinusoids.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from metareg.host.contracts.backbone import Backbone
from metareg.host.contracts.benchmark import Benchmark
from metareg.host.contracts.part import NoConfig
from metareg.toolkit.tasks import TaskBatch, TaskSpec

#: tasks per probe batch: more than one, so task independence can be seen, few enough to stay fast
N_TASKS = 3
#: input shapes a backbone or generator is offered: a vector and a small one-channel image
PROBE_SHAPES: tuple[tuple[int, ...], ...] = ((5,), (1, 16, 16))


def probe_spec(kind: str, input_shape: tuple[int, ...] | None = None) -> TaskSpec:
    """3-way 2-shot classification with 2 queries per class, or 5-shot regression with 5 queries."""
    if kind == "classification":
        return TaskSpec("classification", tuple(input_shape or (5,)), 3, k_shot=2, n_query=2, n_way=3)
    return TaskSpec("regression", tuple(input_shape or (1,)), 1, k_shot=5, n_query=5)


class ProbeClassification(Benchmark):
    """Each task: ``n_way`` Gaussian classes with means drawn N(0, 2²) per input element and unit-quarter spread
    (std 0.5), so a few steps of any sensible learner separate them. Tasks never repeat, so the splits share no
    input; the unlabelled target pool is the same kind of data shifted by +1, a covariate shift."""

    name = "probe-classification"
    task_kind = "classification"
    default_backbone = "probe"

    @dataclass
    class Config:
        input_shape: tuple = (5,)

    def __init__(self, config):
        super().__init__(config)
        self.spec = probe_spec("classification", tuple(config.input_shape))

    def sample(self, split, n_tasks, generator):
        s = self.spec
        shape = s.input_shape
        means = 2.0 * torch.randn((n_tasks, s.n_way, 1, *shape), generator=generator)
        per_class = s.k_shot + s.n_query
        x = means + 0.5 * torch.randn((n_tasks, s.n_way, per_class, *shape), generator=generator)
        labels = torch.arange(s.n_way).view(1, -1, 1).expand(n_tasks, -1, per_class)
        k = s.k_shot
        flat = lambda t: t.flatten(1, 2)  # noqa: E731  [T, N, K, ...] -> [T, N*K, ...]
        return TaskBatch(flat(x[:, :, :k]), flat(labels[:, :, :k]), flat(x[:, :, k:]), flat(labels[:, :, k:]),)

    def target_pool(self, n, generator):
        return 1.0 + 2.0 * torch.randn((n, *self.spec.input_shape), generator=generator)


class ProbeRegression(Benchmark):
    """Each task: y = a·sin(x + b) with a ~ U[0.5, 2], b ~ U[0, π], x ~ U[−3, 3] (MAML's sinusoid, smaller)."""

    name = "probe-regression"
    task_kind = "regression"
    default_backbone = "probe"

    def __init__(self, config):
        super().__init__(config)
        self.spec = probe_spec("regression")

    def sample(self, split, n_tasks, generator):
        s = self.spec
        a = 0.5 + 1.5 * torch.rand((n_tasks, 1, 1), generator=generator)
        b = math.pi * torch.rand((n_tasks, 1, 1), generator=generator)
        x = -3.0 + 6.0 * torch.rand((n_tasks, s.k_shot + s.n_query, 1), generator=generator)
        y = a * torch.sin(x + b)
        k = s.k_shot
        return TaskBatch(x[:, :k], y[:, :k], x[:, k:], y[:, k:])


def probe_benchmark(kind: str, input_shape: tuple[int, ...] | None = None) -> Benchmark:
    if kind == "classification":
        return ProbeClassification(ProbeClassification.Config(tuple(input_shape or (5,))))
    return ProbeRegression(NoConfig())


def probe_batch(kind: str, seed: int = 0, input_shape: tuple[int, ...] | None = None,
                n_tasks: int = N_TASKS) -> TaskBatch:
    return probe_benchmark(kind, input_shape).sample("train", n_tasks, torch.Generator().manual_seed(seed))


class ProbeBackbone(Backbone):
    """Two tanh layers on the flattened input (and the context, concatenated, when asked for one): 8 features."""

    name = "probe"

    def __init__(self, input_shape, config=None, context_dim=0):
        super().__init__(input_shape, config or NoConfig(), context_dim)
        self.net = nn.Sequential(nn.Linear(math.prod(self.input_shape) + context_dim, 16), nn.Tanh(),
                                 nn.Linear(16, 8), nn.Tanh())
        self.feature_dim = 8

    def forward(self, x, context=None):
        x = x.reshape(x.shape[0], -1)
        if self.context_dim:
            context = x.new_zeros(self.context_dim) if context is None else context
            x = torch.cat([x, context.expand(x.shape[0], -1)], dim=1)
        return self.net(x)


# ------------------------------------------------------------------------------------------------------ helpers
def poison_query_targets(batch: TaskBatch) -> TaskBatch:
    """The batch with wrong query targets (shifted class ids, or NaN regression targets): what a part that must
    never read them is run on, to see that its output does not change."""
    if batch.query_y.dtype.is_floating_point:
        poisoned = torch.full_like(batch.query_y, float("nan"))
    else:
        n = int(torch.cat([batch.support_y, batch.query_y], 1).max()) + 1
        poisoned = (batch.query_y + 1) % max(n, 2)
    return dataclasses.replace(batch, query_y=poisoned)


def is_scalar_tensor(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() == 0


def shape_of(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{list(value.shape)} {str(value.dtype).replace('torch.', '')}"
    return type(value).__name__


def check_output(out: object, expected: type, dtype: torch.dtype, at: str = "") -> None:
    """``Broken`` unless ``out`` is an ``expected`` (LearnerOutput, AdversaryOutput) holding a finite scalar loss of
    ``dtype`` and metrics that are scalar tensors: what the engine adds, backpropagates and logs."""
    from metareg.host.conformance.clauses import expect

    at = f" {at}" if at else ""
    expect(isinstance(out, expected), f"returned a {type(out).__name__}, not metareg.{expected.__name__}{at}")
    expect(is_scalar_tensor(out.loss), f"loss is {shape_of(out.loss)}, not a scalar tensor{at}")
    expect(out.loss.dtype == dtype, f"loss dtype {out.loss.dtype} differs from the inputs' {dtype}{at}")
    expect(bool(torch.isfinite(out.loss)), f"loss is {out.loss.item()}{at}")
    bad = {k: shape_of(v) for k, v in out.metrics.items() if not is_scalar_tensor(v)}
    expect(not bad, f"metrics that are not scalar tensors: {bad}{at}")


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-3, atol: float = 1e-5) -> bool:
    """Equal up to float32 round-off of a different order of operations (batched vs looped)."""
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=False))
