"""Third-party plugins arrive through entry points exactly like built-ins, and bad ones are isolated and named.

Each test writes a throw-away installed distribution (a ``*.dist-info`` with ``entry_points.txt``) onto
``sys.path`` with the ``metareg_plugin_dist`` fixture from ``metareg.testing``.
"""
from __future__ import annotations

import pytest

from metareg.errors import DuplicatePartError, PluginError, UnknownPartError
from metareg.host.registry import Registry

from helpers.runs import TINY_DIGITS, json_lines

THIRD_PARTY = '''
from dataclasses import dataclass
import torch
from torch import nn
import metareg
from metareg.toolkit.functional import task_loss


class LinearEmbed(metareg.Backbone):
    """One linear layer on flattened inputs."""
    name = "linear-embed"

    @dataclass
    class Config:
        width: int = 16

    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        size = 1
        for s in input_shape:
            size *= s
        self.linear = nn.Linear(size, config.width)
        self.feature_dim = config.width

    def forward(self, x, context=None):
        return self.linear(x.flatten(1))


class CosineCentroid(metareg.MetaLearner):
    """Cosine similarity to class centroids, scaled."""
    name = "cosine-centroid"
    task_kinds = ("classification",)

    @dataclass
    class Config:
        scale: float = 10.0

    def logits(self, batch):
        t, s = batch.support_x.shape[:2]
        f = torch.nn.functional.normalize(self.backbone(torch.cat([batch.support_x, batch.query_x], 1).flatten(0, 1)), dim=-1)
        f = f.view(t, -1, f.shape[-1])
        onehot = torch.nn.functional.one_hot(batch.support_y, self.spec.n_outputs).to(f.dtype)
        centroids = torch.nn.functional.normalize(onehot.transpose(1, 2) @ f[:, :s], dim=-1)
        return self.config.scale * f[:, s:] @ centroids.transpose(1, 2)

    def meta_loss(self, batch):
        return metareg.LearnerOutput(task_loss("classification", self.logits(batch), batch.query_y))

    def predict(self, batch):
        with torch.no_grad():
            return self.logits(batch)


@metareg.hookimpl
def metareg_register_backbones(register):
    register(LinearEmbed)


@metareg.hookimpl
def metareg_register_learners(register):
    register(CosineCentroid)
'''


def test_third_party_parts_are_discovered_listed_and_run(metareg_plugin_dist, run_cli):
    metareg_plugin_dist("metareg-cosine", {"metareg_cosine": THIRD_PARTY}, {"cosine": "metareg_cosine"}, "0.3")
    registry = Registry.load(warn=False)
    info = registry.get("learner", "cosine-centroid")
    assert (info.distribution, info.version, info.builtin) == ("metareg-cosine", "0.3", False)
    assert registry.get("backbone", "mlp").builtin

    code, out, _ = run_cli("plugins")
    assert code == 0 and "cosine-centroid" in out and "metareg-cosine 0.3" in out and "linear-embed" in out

    code, out, err = run_cli("bench", "--learner", "cosine-centroid", "--backbone", "linear-embed",
                             "--benchmark", "digits", "--json", "--quiet", "learner.cosine-centroid.scale=5",
                             *[s for s in TINY_DIGITS if "conv4" not in s])
    assert code == 0, err
    result = json_lines(out)[0]
    assert result["status"] == "done"
    assert result["parts"]["learner"] == "cosine-centroid" and result["parts"]["backbone"] == "linear-embed"


def test_plugin_that_fails_to_import_is_reported_and_others_keep_working(metareg_plugin_dist, run_cli):
    metareg_plugin_dist("metareg-broken", {"metareg_broken": "raise ImportError('needs libfoo')\n"},
                        {"broken": "metareg_broken"})
    registry = Registry.load(warn=False)
    [failure] = [f for f in registry.failures if f.plugin == "broken"]
    assert "needs libfoo" in failure.error and failure.distribution == "metareg-broken"
    assert "maml" in registry.names("learner")
    with pytest.raises(PluginError, match="needs libfoo"):
        registry.get("learner", "broken")

    code, out, err = run_cli("plugins")
    assert code == 0 and "failed to load" in out and "needs libfoo" in out and "maml" in out
    code, _, err = run_cli("bench", "--learner", "broken", "--quiet")
    assert code == 2 and "needs libfoo" in err


def test_part_breaking_its_contract_is_skipped_with_the_missing_piece_named(metareg_plugin_dist):
    source = '''
import metareg

class NoPredict(metareg.MetaLearner):
    """Forgot predict."""
    name = "no-predict"
    def meta_loss(self, batch):
        raise NotImplementedError

class Fine(metareg.MetaLearner):
    """Complete."""
    name = "fine-one"
    def meta_loss(self, batch):
        raise NotImplementedError
    def predict(self, batch):
        raise NotImplementedError

@metareg.hookimpl
def metareg_register_learners(register):
    register(NoPredict)
    register(Fine)
'''
    metareg_plugin_dist("metareg-half", {"metareg_half": source}, {"half": "metareg_half"})
    registry = Registry.load(warn=False)
    assert "fine-one" in registry.names("learner") and "no-predict" not in registry.names("learner")
    [failure] = [f for f in registry.failures if f.plugin == "half"]
    assert "no-predict" in failure.error and "predict" in failure.error


def test_misspelt_hook_is_an_error_naming_the_plugin(metareg_plugin_dist):
    source = '''
import metareg

@metareg.hookimpl
def metareg_register_learner(register):
    pass
'''
    metareg_plugin_dist("metareg-typo", {"metareg_typo": source}, {"typo": "metareg_typo"})
    registry = Registry.load(warn=False)
    [failure] = [f for f in registry.failures if f.plugin == "typo"]
    assert "metareg_register_learner" in failure.error and "metareg_register_learners" in failure.error


def test_duplicate_names_are_an_error_naming_both_distributions(metareg_plugin_dist):
    source = '''
import metareg
from metareg_plugins.protonet import ProtoNet

class Twin(ProtoNet):
    """A twin."""
    name = "twin"

@metareg.hookimpl
def metareg_register_learners(register):
    register(Twin)
'''
    metareg_plugin_dist("metareg-twin-a", {"twin_a": source}, {"twin-a": "twin_a"})
    metareg_plugin_dist("metareg-twin-b", {"twin_b": source}, {"twin-b": "twin_b"})
    registry = Registry.load(warn=False)
    with pytest.raises(DuplicatePartError) as excinfo:
        registry.get("learner", "twin")
    assert "metareg-twin-a" in str(excinfo.value) and "metareg-twin-b" in str(excinfo.value)


def test_unknown_name_lists_close_matches(registry):
    with pytest.raises(UnknownPartError) as excinfo:
        registry.get("learner", "mamll")
    message = str(excinfo.value)
    assert "did you mean 'maml'" in message and "protonet" in message


def test_allow_list_loads_only_named_plugins(monkeypatch):
    monkeypatch.setenv("METAREG_LOAD_PLUGINS", "maml,backbones")
    registry = Registry.load(warn=False)
    assert registry.names("learner") == ["maml"] and registry.names("benchmark") == []
    monkeypatch.setenv("METAREG_LOAD_PLUGINS", "")
    assert Registry.load(warn=False).all_parts() == []


def test_every_builtin_module_and_subpackage_is_declared_as_an_entry_point():
    import importlib.metadata as md
    from pathlib import Path

    import metareg_plugins

    root = Path(metareg_plugins.__file__).parent
    modules = {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
    subpackages = {p.parent.name for p in root.glob("*/__init__.py")}
    declared = {ep.value.removeprefix("metareg_plugins.") for ep in md.entry_points(group="metareg")
                if ep.dist.name == "metareg"}

    def implements_a_hook(name: str) -> bool:
        import importlib

        module = importlib.import_module(f"metareg_plugins.{name}")
        return any(hasattr(value, "metareg_impl") for value in vars(module).values())

    # what implements no hook is a library the plugins share (glyph_core), not a plugin left undeclared
    assert {name for name in modules | subpackages if implements_a_hook(name)} == declared
