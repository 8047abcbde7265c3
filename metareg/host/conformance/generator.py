"""Runtime checks of the generator contract: fitted on a probe benchmark's source tasks, it enlarges support sets.

A generator declines a task spec it cannot serve by raising ``IncompatibleError`` in its constructor (a
class-conditional generator declines regression); it must serve at least one probe (vector or image
classification, regression). Methods are called with the keyword arguments the engine passes, filtered to those the
implementation accepts (``call_accepted``), so generators written against an older contract are checked as the
engine runs them.
"""
from __future__ import annotations

import torch

from metareg.errors import IncompatibleError
from metareg.host.conformance.clauses import Declined, Finding, Suite, expect
from metareg.host.conformance.probes import PROBE_SHAPES, poison_query_targets, probe_batch, probe_benchmark, probe_spec
from metareg.host.conformance.settings import part_config
from metareg.host.contracts.generator import call_accepted
from metareg.toolkit.tasks import TaskBatch

SUITE = Suite("generator")
SEED = 1234
#: (task kind, input shape) probes
PROBES = [("classification", shape) for shape in PROBE_SHAPES] + [("regression", None)]


class GeneratorProbe:
    def __init__(self, cls: type, kind: str, input_shape, overrides: dict | None):
        self.cls, self.kind, self.overrides = cls, kind, overrides
        self.spec = probe_spec(kind, input_shape)
        self.benchmark = probe_benchmark(kind, input_shape)
        self.batch = probe_batch(kind, seed=0, input_shape=input_shape)
        self.config = None
        self.declined = False

    def fitted(self, seed: int = SEED):
        torch.manual_seed(seed)
        generator = self.cls(self.spec, self.config)
        out = call_accepted(generator.fit, self.benchmark, torch.device("cpu"), False, checkpoint_dir=None, seed=0)
        expect(out is None, f"fit returned {type(out).__name__}; it trains the generator in place and returns None")
        return generator

    def augment(self, generator, batch: TaskBatch | None = None, split: str = "test", seed: int = SEED) -> TaskBatch:
        torch.manual_seed(seed)
        return call_accepted(generator.augment, self.batch if batch is None else batch, split=split)


@SUITE.clause("build", "constructed as cls(spec, config) (raising IncompatibleError for task specs it cannot serve)")
def build(probe: GeneratorProbe) -> None:
    probe.config = part_config(probe.cls, probe.kind, probe.overrides)
    try:
        torch.manual_seed(SEED)
        probe.cls(probe.spec, probe.config)
    except IncompatibleError as exc:
        probe.declined = True
        raise Declined(f"declines {probe.kind} tasks of inputs {list(probe.spec.input_shape)}: {exc}") from None


@SUITE.clause("fit", "fit(benchmark, device, progress) trains on the benchmark's source tasks and returns None")
def fit(probe: GeneratorProbe) -> None:
    probe.fitted()


@SUITE.clause("augment", "augment(batch) returns a TaskBatch that keeps each task's support samples first and "
                         "appends generated samples of the same shape and dtype with valid targets (at least one at "
                         "evaluation, split='test'), leaving the query set as it was")
def augment(probe: GeneratorProbe) -> None:
    generator = probe.fitted()
    b = probe.batch
    for split in ("train", "test"):
        out = probe.augment(generator, split=split)
        at = f"(split {split!r})"
        expect(isinstance(out, TaskBatch), f"returned a {type(out).__name__}, not a TaskBatch {at}")
        s = b.support_x.shape[1]
        expect(out.support_x.shape[0] == len(b) and out.support_x.shape[2:] == b.support_x.shape[2:],
               f"support_x is {list(out.support_x.shape)}; expected [{len(b)}, >{s}, *{list(b.support_x.shape[2:])}] "
               f"{at}")
        if split == "test":  # at meta-train a generator may leave support sets as they are (split="train")
            expect(out.support_x.shape[1] > s, f"no sample was added to the support sets {at}")
        expect(out.support_y.shape[:2] == out.support_x.shape[:2] and out.support_y.shape[2:] == b.support_y.shape[2:],
               f"support_y is {list(out.support_y.shape)} for support_x {list(out.support_x.shape)} {at}")
        expect(out.support_x.dtype == b.support_x.dtype and out.support_y.dtype == b.support_y.dtype,
               f"support dtypes became {out.support_x.dtype}/{out.support_y.dtype} {at}")
        expect(torch.equal(out.support_x[:, :s], b.support_x) and torch.equal(out.support_y[:, :s], b.support_y),
               f"the original support samples are not kept first, unchanged {at}")
        extra_x, extra_y = out.support_x[:, s:], out.support_y[:, s:]
        expect(bool(torch.isfinite(extra_x).all()), f"generated inputs contain NaN or inf {at}")
        if probe.kind == "classification":
            expect(bool(((extra_y >= 0) & (extra_y < probe.spec.n_way)).all()),
                   f"generated labels outside 0..{probe.spec.n_way - 1} {at}")
        else:
            expect(bool(torch.isfinite(extra_y).all()), f"generated targets contain NaN or inf {at}")
        expect(torch.equal(out.query_x, b.query_x) and torch.equal(out.query_y, b.query_y),
               f"the query set changed {at}")


@SUITE.clause("query_targets", "augment never reads the query targets: wrong ones give the same support sets")
def query_targets(probe: GeneratorProbe) -> None:
    honest = probe.augment(probe.fitted())
    poisoned = probe.augment(probe.fitted(), poison_query_targets(probe.batch))
    expect(torch.equal(honest.support_x, poisoned.support_x) and torch.equal(honest.support_y, poisoned.support_y),
           "the generated support samples changed when only the query targets did")


@SUITE.clause("deterministic", "fitted and applied twice under the same torch seed, it generates the same samples")
def deterministic(probe: GeneratorProbe) -> None:
    first, second = probe.augment(probe.fitted()), probe.augment(probe.fitted())
    expect(torch.equal(first.support_x, second.support_x), "two seeded fits generate different samples")


def check(cls: type, overrides: dict | None, report) -> None:
    """Run the suite on each probe; a generator that declines every probe breaks the build clause."""
    served = 0
    for kind, shape in PROBES:
        probe = GeneratorProbe(cls, kind, shape, overrides)
        SUITE.run(probe, report, context=f"on {kind} tasks of inputs {list(probe.spec.input_shape)}")
        served += not probe.declined
    if not served:
        report.failures.append(Finding(SUITE.clauses[0], "declines every probe task spec"))
