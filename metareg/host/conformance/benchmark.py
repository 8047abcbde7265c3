"""Runtime checks of the benchmark contract: seeded, well-formed episodes from disjoint splits, and a target pool.

A benchmark is built from its default config (plus ``check_config`` and the caller's overrides). One that cannot be
built without a setting only the user can give (a dataset path) raises ``ConfigError`` and is reported as skipped
with that message, never as passing; ``check_plugin(..., config=...)`` checks it with the setting given.
"""
from __future__ import annotations

import dataclasses

import torch

from metareg.host.conformance.clauses import Declined, Suite, expect
from metareg.host.conformance.probes import shape_of
from metareg.host.conformance.settings import part_config
from metareg.host.contracts.benchmark import has_target_domain
from metareg.toolkit.tasks import SPLITS, TaskBatch, TaskSpec

SUITE = Suite("benchmark")
N_TASKS, POOL = 2, 8
#: generator seeds per split and for the pool: the engine seeds each split's and the pool's generator differently
#: (``torch_generator(seed, split)``), and a benchmark may rely on that to keep continuous task families disjoint
SEEDS = {"train": 0, "val": 1, "test": 2, "pool": 3}


class BenchmarkProbe:
    def __init__(self, cls: type, overrides: dict | None):
        self.cls, self.overrides = cls, overrides
        self.benchmark = None
        self.batches: dict[str, TaskBatch] = {}

    def sample(self, split: str, seed: int | None = None) -> TaskBatch:
        seed = SEEDS[split] if seed is None else seed
        return self.benchmark.sample(split, N_TASKS, torch.Generator().manual_seed(seed))


def _rows(*tensors: torch.Tensor) -> set[bytes]:
    """Each input (one sample) as bytes, to find inputs that two splits share."""
    return {row.numpy().tobytes() for t in tensors for row in t.detach().flatten(0, 1).flatten(1).contiguous()}


@SUITE.clause("build", "constructed as cls(config), it has a TaskSpec spec whose kind is the class's task_kind, a "
                       "default_backbone name and train_defaults that are train settings")
def build(probe: BenchmarkProbe) -> None:
    from metareg.run.config import TrainSection

    cls = probe.cls
    probe.benchmark = cls(part_config(cls, getattr(cls, "task_kind", None), probe.overrides))
    spec = getattr(probe.benchmark, "spec", None)
    expect(isinstance(spec, TaskSpec), f"spec is {type(spec).__name__}, not a metareg.TaskSpec")
    expect(spec.kind == cls.task_kind, f"spec.kind is {spec.kind!r} but task_kind is {cls.task_kind!r}")
    expect(isinstance(cls.default_backbone, str) and cls.default_backbone, "default_backbone must name a backbone")
    train_keys = {f.name for f in dataclasses.fields(TrainSection)}
    unknown = sorted(set(cls.train_defaults) - train_keys)
    expect(not unknown, f"train_defaults sets {', '.join(unknown)}; train settings are {', '.join(sorted(train_keys))}")


@SUITE.clause("sample", "sample(split, n_tasks, generator) returns n_tasks tasks of train, val and test: finite "
                        "floating inputs [T, S, *input_shape] with S = k_shot x n_way (classification) or k_shot "
                        "(regression), and queries [T, Q, *input_shape]; targets are long class ids 0..n_way-1, each "
                        "k_shot times in a support set, or floating [T, S, n_outputs]")
def sample(probe: BenchmarkProbe) -> None:
    spec = probe.benchmark.spec
    classification = spec.kind == "classification"
    shots = spec.k_shot * (spec.n_outputs if classification else 1)
    for split in SPLITS:
        b = probe.batches[split] = probe.sample(split)
        at = f"({split} split)"
        expect(isinstance(b, TaskBatch), f"returned a {type(b).__name__}, not a metareg.TaskBatch {at}")
        want = [N_TASKS, shots, *spec.input_shape]
        expect(list(b.support_x.shape) == want, f"support_x is {shape_of(b.support_x)}, expected {want} {at}")
        q = b.query_x.shape[1] if b.query_x.dim() > 1 else 0
        want_q = [N_TASKS, q, *spec.input_shape]
        expect(q >= 1 and list(b.query_x.shape) == want_q, f"query_x is {shape_of(b.query_x)}, expected {want_q} {at}")
        for name, x in (("support_x", b.support_x), ("query_x", b.query_x)):
            expect(x.dtype.is_floating_point and bool(torch.isfinite(x).all()), f"{name} is not finite floats {at}")
        for name, y, n in (("support_y", b.support_y, shots), ("query_y", b.query_y, q)):
            if classification:
                expect(y.dtype == torch.long and list(y.shape) == [N_TASKS, n],
                       f"{name} is {shape_of(y)}, expected [{N_TASKS}, {n}] int64 {at}")
                expect(bool(((y >= 0) & (y < spec.n_outputs)).all()), f"{name} has ids outside 0..{spec.n_outputs - 1}")
            else:
                want_y = [N_TASKS, n, spec.n_outputs]
                expect(y.dtype.is_floating_point and list(y.shape) == want_y and bool(torch.isfinite(y).all()),
                       f"{name} is {shape_of(y)}, expected finite floats {want_y} {at}")
        if classification:
            counts = torch.stack([torch.bincount(t, minlength=spec.n_outputs) for t in b.support_y])
            expect(bool((counts == spec.k_shot).all()), f"support sets do not hold k_shot={spec.k_shot} samples of "
                                                        f"each class: counts {counts.tolist()} {at}")


@SUITE.clause("generator", "sample draws its randomness from the generator it is given: the same seed gives the same "
                           "tasks whatever the global torch seed, another seed other tasks")
def generator(probe: BenchmarkProbe) -> None:
    for split in SPLITS:
        torch.manual_seed(1)
        a = probe.sample(split)
        torch.manual_seed(2)
        b = probe.sample(split)
        same = all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("support_x", "support_y", "query_x", "query_y"))
        expect(same, f"the same generator seed gave different {split} tasks (is the global RNG used?)")
        expect(not torch.equal(a.support_x, probe.sample(split, seed=SEEDS[split] + 10).support_x),
               f"another generator seed gave the same {split} tasks")


@SUITE.clause("splits", "train, val and test tasks (each split sampled with its own generator, as the engine does) "
                        "share no input")
def splits(probe: BenchmarkProbe) -> None:
    batches = {s: probe.batches[s] if s in probe.batches else probe.sample(s) for s in SPLITS}
    rows = {s: _rows(b.support_x, b.query_x) for s, b in batches.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = len(rows[a] & rows[b])
        expect(shared == 0, f"{shared} inputs appear in both {a} and {b} tasks")


@SUITE.clause("target_pool", "target_pool(n, generator) is None (no domain shift) or n finite unlabelled inputs "
                             "[n, *input_shape], the same for the same seed, none of them a test input")
def target_pool(probe: BenchmarkProbe) -> None:
    pool = probe.benchmark.target_pool(POOL, torch.Generator().manual_seed(SEEDS["pool"]))
    if pool is None:
        raise Declined("no target pool: adversaries cannot be used with this benchmark")
    want = [POOL, *probe.benchmark.spec.input_shape]
    expect(isinstance(pool, torch.Tensor) and list(pool.shape) == want, f"returned {shape_of(pool)}, expected {want}")
    expect(pool.dtype.is_floating_point and bool(torch.isfinite(pool).all()), "the pool is not finite floats")
    again = probe.benchmark.target_pool(POOL, torch.Generator().manual_seed(SEEDS["pool"]))
    expect(torch.equal(pool, again), "the same generator seed gave a different pool")
    test = probe.batches["test"] if "test" in probe.batches else probe.sample("test")
    shared = len(_rows(pool.unsqueeze(0)) & _rows(test.support_x, test.query_x))
    expect(shared == 0, f"{shared} pool inputs are also test inputs")


@SUITE.clause("target_episodes", "target_episodes(n, size, generator) is None exactly when target_pool is, or finite "
                                 "unlabelled inputs [n, size, *input_shape], the same for the same seed, none of them "
                                 "a test input")
def target_episodes(probe: BenchmarkProbe) -> None:
    drawn = probe.benchmark.target_episodes(2, 3, torch.Generator().manual_seed(SEEDS["pool"]))
    if not has_target_domain(probe.benchmark):
        expect(drawn is None, f"target_pool is None but target_episodes returned {shape_of(drawn)}")
        raise Declined("no target pool: adversaries cannot be used with this benchmark")
    want = [2, 3, *probe.benchmark.spec.input_shape]
    expect(isinstance(drawn, torch.Tensor) and list(drawn.shape) == want,
           f"returned {shape_of(drawn)}, expected {want}")
    expect(drawn.dtype.is_floating_point and bool(torch.isfinite(drawn).all()), "the draw is not finite floats")
    again = probe.benchmark.target_episodes(2, 3, torch.Generator().manual_seed(SEEDS["pool"]))
    expect(torch.equal(drawn, again), "the same generator seed gave a different draw")
    test = probe.batches["test"] if "test" in probe.batches else probe.sample("test")
    shared = len(_rows(drawn) & _rows(test.support_x, test.query_x))
    expect(shared == 0, f"{shared} drawn target inputs are also test inputs")


def check(cls: type, overrides: dict | None, report) -> None:
    SUITE.run(BenchmarkProbe(cls, overrides), report)
