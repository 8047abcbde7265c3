"""The runtime contract checks: every built-in part passes them, and a part that breaks one clause is reported with
that clause.

Each deliberately broken toy below is a correct toy part (which passes) with one thing wrong, so a failure names
the clause the change broke and not some other.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

import pytest
import torch

import metareg
from metareg.errors import UnknownPartError
from metareg.host.conformance import check_class, check_plugin
from metareg.host.conformance.probes import ProbeBackbone, ProbeClassification, ProbeRegression
from metareg.host.conformance.run import SUITES
from metareg.host.contracts import check_part
from metareg.host.registry import Registry
from helpers.toys import AscendingGradient, CopiesBackbone, DetachedAlignment, DetachedFeatures, DoubleFeatures, FitReturnsSelf, FlatPredictions, GlobalRandomness, IgnoresContext, LabelsFromQueries, MissingShots, NeedsPath, NoFeatureDim, OneSmallDataset, PerSampleLoss, EpisodesOfTheWrongShape, PoolFromTestTasks, PythonScalarScaling, RawTensorLoss, ReadsQueryTargets, ReplacesSupport, RunningBatchNorm, SharedNormalisation, TOY_PLUGIN, ToyAdversary, ToyBackbone, ToyBenchmark, ToyGenerator, ToyLearner, UnknownTrainSetting, UnseededAdversary, UnseededBackbone, UnseededGenerator, UnseededNoise, UnusedHead, UnusedLayer, WeightsByReference, WrongKind

#: glyphs renders fonts into a cache: two alphabets at 16 px keep that to a second (parts that train declare their
#: own small settings as ``check_config``, as mtgan does)
SMALL = {"benchmark.glyphs": dict(source="latin", target="greek", image_size=16, instances_per_font=2, n_query=3)}


def _builtin_parts():
    registry = Registry.load(warn=False)
    return [pytest.param(info, id=f"{info.family}-{info.name}") for info in registry.all_parts() if info.builtin]


@pytest.fixture(scope="module")
def builtin_settings(tmp_path_factory):
    """``SMALL`` plus a tiny Omniglot-layout folder for ``folder`` and a private glyph cache."""
    from helpers.folders import EPISODE, make_omniglot

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
    ("benchmark", EpisodesOfTheWrongShape, "benchmark.target_episodes"),
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
