"""The runtime contract checks: every built-in part passes them, and a part that breaks one clause is reported with
that clause.

Each deliberately broken toy below is a correct toy part (which passes) with one thing wrong, so a failure names
the clause the change broke and not some other.
"""
from __future__ import annotations

import copy
import importlib
import random
import re
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import metareg
from metareg.errors import UnknownPartError
from metareg.host.conformance import check_class, check_plugin
from metareg.host.conformance.probes import ProbeBackbone, ProbeClassification, ProbeRegression
from metareg.host.conformance.run import SUITES
from metareg.host.contracts import check_part
from metareg.host.registry import Registry

#: glyphs renders fonts into a cache: two alphabets at 16 px keep that to a second (parts that train declare their
#: own small settings as ``check_config``, as mtgan does)
SMALL = {"benchmark.glyphs": dict(source="latin", target="greek", image_size=16, instances_per_font=2, n_query=3)}


def _builtin_parts():
    registry = Registry.load(warn=False)
    return [pytest.param(info, id=f"{info.family}-{info.name}") for info in registry.all_parts() if info.builtin]


@pytest.fixture(scope="module")
def builtin_settings(tmp_path_factory):
    """``SMALL`` plus a tiny Omniglot-layout folder for ``folder`` and a private glyph cache."""
    from test_folder import EPISODE, make_omniglot

    root = tmp_path_factory.mktemp("conformance")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METAREG_CACHE", str(root / "cache"))
        yield {**SMALL, "benchmark.folder": dict(path=str(make_omniglot(root / "omniglot")), **EPISODE)}


@pytest.mark.parametrize("info", _builtin_parts())
def test_every_builtin_part_passes_every_clause_of_its_contract(info, builtin_settings):
    overrides = builtin_settings.get(f"{info.family}.{info.name}")
    report = check_class(info.family, info.cls, overrides)
    assert report.status == "pass", report.format()
    suite = importlib.import_module(SUITES[info.family]).SUITE
    assert set(report.checked) == {c.id for c in suite.clauses}, "some clauses never ran"


@pytest.mark.parametrize("family, cls", [("backbone", ProbeBackbone), ("benchmark", ProbeClassification),
                                         ("benchmark", ProbeRegression)])
def test_the_probes_the_checks_feed_to_parts_pass_their_own_family_checks(family, cls):
    report = check_class(family, cls)
    assert report.status == "pass", report.format()


# ---------------------------------------------------------------------------------------------------------------
# toy parts: a correct one per family, then one broken copy per clause
# ---------------------------------------------------------------------------------------------------------------
class ToyBackbone(metareg.Backbone):
    """One linear layer and tanh on the flattened input (and the context, concatenated)."""

    name = "toy-backbone"

    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        size = 1
        for s in self.input_shape:
            size *= s
        self.linear = nn.Linear(size + context_dim, 4)
        self.feature_dim = 4

    def forward(self, x, context=None):
        x = x.flatten(1)
        if self.context_dim:
            c = x.new_zeros(self.context_dim) if context is None else context
            x = torch.cat([x, c.expand(len(x), -1)], 1)
        return torch.tanh(self.linear(x))


class NoFeatureDim(ToyBackbone):
    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        del self.feature_dim


class DoubleFeatures(ToyBackbone):
    def forward(self, x, context=None):
        return super().forward(x, context).double()


class UnusedLayer(ToyBackbone):
    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        self.spare = nn.Linear(2, 2)


class WeightsByReference(ToyBackbone):
    """Reaches its weight through a list it filled at construction, which torch.func cannot substitute."""

    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        self.held = [self.linear.weight]

    def forward(self, x, context=None):
        return torch.tanh(x.flatten(1) @ self.held[0][:, : x.flatten(1).shape[1]].T + self.linear.bias)


class RunningBatchNorm(ToyBackbone):
    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, x, context=None):
        return self.norm(super().forward(x, context))


class PythonScalarScaling(ToyBackbone):
    """Reads a Python number out of its input, which ``vmap`` cannot batch."""

    def forward(self, x, context=None):
        return super().forward(x / (1.0 + x.abs().max().item()), context)


class IgnoresContext(ToyBackbone):
    def forward(self, x, context=None):
        return super().forward(x, None)


class UnseededBackbone(ToyBackbone):
    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        with torch.no_grad():
            self.linear.weight.normal_(generator=torch.Generator().manual_seed(random.getrandbits(32)))


class ToyLearner(metareg.MetaLearner):
    """Prototypes with a learnt temperature: negative squared distances to class means, one backbone call per task."""

    name = "toy-learner"
    task_kinds = ("classification",)

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.temperature = nn.Parameter(torch.ones(()))

    def embed(self, batch):
        x = torch.cat([batch.support_x, batch.query_x], 1)
        f = torch.stack([self.backbone(x[t]) for t in range(len(x))])
        return f[:, : batch.support_x.shape[1]], f[:, batch.support_x.shape[1]:]

    def logits(self, batch):
        support, query = self.embed(batch)
        one_hot = F.one_hot(batch.support_y, self.spec.n_outputs).to(support.dtype)
        prototypes = one_hot.transpose(1, 2) @ support / one_hot.sum(1).unsqueeze(-1)
        return -self.temperature * torch.cdist(query, prototypes).pow(2)

    def meta_loss(self, batch):
        logits = self.logits(batch)
        return metareg.LearnerOutput(F.cross_entropy(logits.flatten(0, 1), batch.query_y.flatten()))

    def predict(self, batch):
        with torch.no_grad():
            return self.logits(batch)


class CopiesBackbone(ToyLearner):
    def __init__(self, backbone, spec, config):
        super().__init__(copy.deepcopy(backbone), spec, config)


class RawTensorLoss(ToyLearner):
    def meta_loss(self, batch):
        return super().meta_loss(batch).loss


class UnusedHead(ToyLearner):
    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.head = nn.Linear(4, 4)


class FlatPredictions(ToyLearner):
    def predict(self, batch):
        return super().predict(batch).flatten(0, 1)


class ReadsQueryTargets(ToyLearner):
    def predict(self, batch):
        return super().predict(batch) + F.one_hot(batch.query_y, self.spec.n_outputs)


class DetachedFeatures(ToyLearner):
    def features(self, x):
        return self.backbone(x).detach()


class UnseededNoise(ToyLearner):
    def predict(self, batch):
        noise = torch.randn(1, generator=torch.Generator().manual_seed(random.getrandbits(32)))
        return super().predict(batch) + noise


class SharedNormalisation(ToyLearner):
    """Scales the features by their spread over the whole meta-batch: each task's result depends on the others."""

    def embed(self, batch):
        support, query = super().embed(batch)
        spread = torch.cat([support, query], 1).std()
        return support / spread, query / spread


class AscendingGradient(ToyLearner):
    """Reports the loss but hands the optimiser the gradient of its negation."""

    def meta_loss(self, batch):
        loss = super().meta_loss(batch).loss
        return metareg.LearnerOutput(2 * loss.detach() - loss)


class ToyAdversary(metareg.Adversary):
    """Squared distance between the mean source and target features, scaled by a learnt weight."""

    name = "toy-adversary"

    def __init__(self, feature_dim, config):
        super().__init__(feature_dim, config)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, source, target, progress):
        gap = (source.mean(0) - target.mean(0)).pow(2).sum()
        return metareg.AdversaryOutput(self.scale * gap, {"gap": gap.detach()})


class PerSampleLoss(ToyAdversary):
    def forward(self, source, target, progress):
        return metareg.AdversaryOutput(source.mean(1) - target.mean())


class DetachedAlignment(ToyAdversary):
    def forward(self, source, target, progress):
        return super().forward(source.detach(), target.detach(), progress)


class UnseededAdversary(ToyAdversary):
    def forward(self, source, target, progress):
        out = super().forward(source, target, progress)
        noise = torch.rand((), generator=torch.Generator().manual_seed(random.getrandbits(32)))
        return metareg.AdversaryOutput(out.loss + noise, out.metrics)


class ToyGenerator(metareg.Generator):
    """Appends one jittered copy of each support sample, with noise scaled by the source data's spread."""

    name = "toy-generator"

    def fit(self, benchmark, device, progress=True):
        self.spread = float(benchmark.sample("train", 4, torch.Generator().manual_seed(0)).support_x.std())

    def augment(self, batch):
        extra = batch.support_x + 0.1 * self.spread * torch.randn_like(batch.support_x)
        return batch.with_support(torch.cat([batch.support_x, extra], 1),
                                  torch.cat([batch.support_y, batch.support_y], 1))


class FitReturnsSelf(ToyGenerator):
    def fit(self, benchmark, device, progress=True):
        super().fit(benchmark, device, progress)
        return self


class ReplacesSupport(ToyGenerator):
    def augment(self, batch):
        out = super().augment(batch)
        return out.with_support(out.support_x.flip(1), out.support_y.flip(1))


class LabelsFromQueries(ToyGenerator):
    def augment(self, batch):
        out = super().augment(batch)
        s = batch.support_y.shape[1]
        labels = out.support_y.clone()
        labels[:, s:] = batch.query_y[:, :1]
        return out.with_support(out.support_x, labels)


class UnseededGenerator(ToyGenerator):
    def augment(self, batch):
        out = super().augment(batch)
        jitter = torch.rand((), generator=torch.Generator().manual_seed(random.getrandbits(32)))
        s = batch.support_x.shape[1]
        return out.with_support(torch.cat([batch.support_x, out.support_x[:, s:] + jitter], 1), out.support_y)


class ToyBenchmark(ProbeClassification):
    """The classification probe, registered under its own name."""

    name = "toy-benchmark"


class WrongKind(ToyBenchmark):
    task_kind = "regression"


class UnknownTrainSetting(ToyBenchmark):
    train_defaults = {"meta_iteratons": 10}


class MissingShots(ToyBenchmark):
    def sample(self, split, n_tasks, generator):
        batch = super().sample(split, n_tasks, generator)
        return batch.with_support(batch.support_x, torch.zeros_like(batch.support_y))


class GlobalRandomness(ToyBenchmark):
    def sample(self, split, n_tasks, generator):
        batch = super().sample(split, n_tasks, generator)
        return batch.with_support(batch.support_x + torch.rand(()), batch.support_y)


class OneSmallDataset(ToyBenchmark):
    """Every split draws from the same 9 fixed inputs."""

    def __init__(self, config):
        super().__init__(config)
        fixed = torch.randn((3, 3, *self.spec.input_shape), generator=torch.Generator().manual_seed(0))
        self.pool = metareg.ClassPool({c: fixed[c] for c in range(3)})

    def sample(self, split, n_tasks, generator):
        return self.pool.episodes(n_tasks, 3, 2, 1, generator)


class PoolFromTestTasks(ToyBenchmark):
    def target_pool(self, n, generator):
        batch = self.sample("test", 2, torch.Generator().manual_seed(2))  # the test split's generator seed
        return torch.cat([batch.support_x, batch.query_x], 1).flatten(0, 1)[:n]


class NeedsPath(ToyBenchmark):
    @dataclass
    class Config:
        input_shape: tuple = (5,)
        path: str = ""

    def __init__(self, config):
        if not config.path:
            raise metareg.ConfigError("benchmark.needs-path.path is not set")
        super().__init__(config)


BROKEN = [
    ("backbone", NoFeatureDim, "backbone.build"),
    ("backbone", DoubleFeatures, "backbone.forward"),
    ("backbone", UnusedLayer, "backbone.gradients"),
    ("backbone", WeightsByReference, "backbone.functional"),
    ("backbone", RunningBatchNorm, "backbone.batch_stats"),
    ("backbone", PythonScalarScaling, "backbone.vmap"),
    ("backbone", IgnoresContext, "backbone.context"),
    ("backbone", UnseededBackbone, "backbone.deterministic"),
    ("learner", CopiesBackbone, "learner.build"),
    ("learner", RawTensorLoss, "learner.meta_loss"),
    ("learner", UnusedHead, "learner.gradients"),
    ("learner", FlatPredictions, "learner.predict"),
    ("learner", ReadsQueryTargets, "learner.query_targets"),
    ("learner", DetachedFeatures, "learner.features"),
    ("learner", UnseededNoise, "learner.deterministic"),
    ("learner", SharedNormalisation, "learner.batched"),
    ("learner", AscendingGradient, "learner.train_step"),
    ("adversary", PerSampleLoss, "adversary.output"),
    ("adversary", DetachedAlignment, "adversary.gradients"),
    ("adversary", UnseededAdversary, "adversary.deterministic"),
    ("generator", FitReturnsSelf, "generator.fit"),
    ("generator", ReplacesSupport, "generator.augment"),
    ("generator", LabelsFromQueries, "generator.query_targets"),
    ("generator", UnseededGenerator, "generator.deterministic"),
    ("benchmark", WrongKind, "benchmark.build"),
    ("benchmark", UnknownTrainSetting, "benchmark.build"),
    ("benchmark", MissingShots, "benchmark.sample"),
    ("benchmark", GlobalRandomness, "benchmark.generator"),
    ("benchmark", OneSmallDataset, "benchmark.splits"),
    ("benchmark", PoolFromTestTasks, "benchmark.target_pool"),
]


@pytest.mark.parametrize("family, cls", [("backbone", ToyBackbone), ("learner", ToyLearner),
                                         ("adversary", ToyAdversary), ("generator", ToyGenerator),
                                         ("benchmark", ToyBenchmark)])
def test_the_correct_toy_of_each_family_passes(family, cls):
    report = check_class(family, cls)
    assert report.status == "pass", report.format()


@pytest.mark.parametrize("family, cls, clause", [pytest.param(*b, id=b[1].__name__) for b in BROKEN])
def test_a_part_breaking_one_clause_fails_with_that_clause_named(family, cls, clause):
    report = check_class(family, cls)
    assert report.status == "fail"
    assert clause in {f.clause.id for f in report.failures}, report.format()
    assert f"[{clause}]" in report.format()


def test_declared_capabilities_are_not_held_against_a_part():
    class NoVmapNoContext(PythonScalarScaling, IgnoresContext):
        supports_vmap = False
        supports_context = False

    report = check_class("backbone", NoVmapNoContext)
    assert report.status == "pass", report.format()
    assert any("supports_vmap = False" in n for n in report.notes)
    assert any("supports_context = False" in n for n in report.notes)


def test_a_benchmark_needing_a_setting_is_skipped_with_the_reason_then_passes_when_given_it():
    report = check_class("benchmark", NeedsPath)
    assert report.status == "skip" and "path is not set" in report.reason
    assert check_class("benchmark", NeedsPath, {"path": "/somewhere"}).status == "pass"


def test_check_config_and_overrides_must_name_config_fields():
    class Misconfigured(ToyBenchmark):
        check_config = {"input_shap": (5,)}

    report = check_class("benchmark", Misconfigured)
    assert [f.clause.id for f in report.failures] == ["benchmark.build"]
    assert "input_shap" in report.reason and "input_shape" in report.reason


class SizedToyLearner(ToyLearner):
    """The toy learner with one numeric setting and its declared range."""

    @dataclass
    class Config:
        scale: float = 1.0

    ranges = {"scale": metareg.Range.above(0)}


def test_ranges_must_name_config_fields_with_defaults_inside_them():
    misnamed = type("Misnamed", (SizedToyLearner,), {"ranges": {"scael": metareg.Range.above(0)}})
    bad_default = type("BadDefault", (SizedToyLearner,), {"ranges": {"scale": metareg.Range.above(2)}})
    for cls, detail in ((misnamed, "`ranges` names 'scael', not fields of Config (fields: scale)"),
                        (bad_default, "the default of scale breaks its declared range")):
        report = check_class("learner", cls)
        assert [f.clause.id for f in report.failures] == ["learner.build"] and detail in report.reason
        named = type(cls.__name__, (cls,), {"name": "toy-sized"})
        with pytest.raises(metareg.ContractError, match=re.escape(detail)):  # and at registration
            check_part("learner", named)
    assert check_class("learner", SizedToyLearner).status == "pass"


def test_a_check_config_outside_the_declared_range_is_the_parts_fault_an_override_the_callers():
    own = type("OwnBad", (SizedToyLearner,), {"check_config": {"scale": -1.0}})
    report = check_class("learner", own)
    assert report.status == "fail" and "its own settings" in report.reason
    assert "must be above 0, got -1.0" in report.reason
    report = check_class("learner", SizedToyLearner, {"scale": 0.0})
    assert report.status == "skip" and "scale must be above 0, got 0.0" in report.reason


def test_checks_leave_the_global_seed_alone_and_run_under_no_grad():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    with torch.no_grad():
        report = check_class("learner", ToyLearner)
    assert report.status == "pass", report.format()
    assert torch.equal(torch.rand(3), expected)


TOY_PLUGIN = '''
import metareg
from test_conformance import ToyAdversary, ToyLearner

@metareg.hookimpl
def metareg_register_learners(register):
    register(ToyLearner)

@metareg.hookimpl
def metareg_register_adversaries(register):
    register(ToyAdversary)
'''


def test_check_plugin_finds_parts_by_plugin_distribution_or_part_name(metareg_plugin_dist):
    metareg_plugin_dist("metareg-toys", {"metareg_toys": TOY_PLUGIN}, {"toys": "metareg_toys"}, "2.0")
    registry = Registry.load(allow=["toys"], warn=False)
    for name in ("toys", "metareg-toys"):
        report = check_plugin(name, registry=registry)
        assert {(p.family, p.name) for p in report.parts} == {("learner", "toy-learner"), ("adversary", "toy-adversary")}
        assert report.ok and {(p.distribution, p.version) for p in report.parts} == {("metareg-toys", "2.0")}
    assert [p.name for p in check_plugin("toy-learner", registry=registry).parts] == ["toy-learner"]
    with pytest.raises(UnknownPartError, match="did you mean 'toys'"):
        check_plugin("toy", registry=registry)


def test_check_plugin_on_a_module_reports_registration_failures_as_plugin_load():
    class NoName(ToyLearner):
        name = "Not Kebab"

    report = check_plugin(_module("half_broken", "metareg_register_learners", ToyLearner, NoName))
    assert not report.ok
    [row] = report.failed
    assert row.failures[0].clause.id == "plugin.load" and "kebab-case" in row.reason
    assert [p.status for p in report.parts if p.name == "toy-learner"] == ["pass"]


def _module(name: str, hook: str, *classes: type):
    import types

    module = types.ModuleType(name)

    def register_all(register):
        for cls in classes:
            register(cls)

    register_all.__name__ = hook
    setattr(module, hook, metareg.hookimpl(register_all))
    return module


def test_the_metareg_check_fixture_fails_the_test_with_each_broken_clause_and_with_skipped_parts(metareg_check):
    report = metareg_check(_module("fine", "metareg_register_learners", ToyLearner))
    assert [p.status for p in report.parts] == ["pass"]
    cheat = type("Cheat", (ReadsQueryTargets,), {"name": "cheat"})  # registered parts need a name of their own
    with pytest.raises(pytest.fail.Exception) as failed:
        metareg_check(_module("cheats", "metareg_register_learners", cheat))
    assert "[learner.query_targets]" in str(failed.value) and "never reads the query targets" in str(failed.value)
    located = _module("located", "metareg_register_benchmarks", type("Located", (NeedsPath,), {"name": "located"}))
    with pytest.raises(pytest.fail.Exception, match="path is not set"):
        metareg_check(located)
    assert [p.status for p in metareg_check(located, allow_skip=True).parts] == ["skip"]
