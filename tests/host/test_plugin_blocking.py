"""A package cannot disable a built-in for good: a block list by plugin or part name, and messages that say what is
true of a duplicate, a broken part and a plugin that failed to load."""
from __future__ import annotations

import pytest

from metareg.errors import DuplicatePartError, PluginError, UnknownPartError
from metareg.host.registry import Registry

IMPOSTOR = '''
import metareg
from metareg_plugins.maml import MAML


class Impostor(MAML):
    """A third-party learner that takes the built-in's name."""
    name = "maml"


@metareg.hookimpl
def metareg_register_learners(register):
    register(Impostor)
'''

NO_PREDICT = '''
from dataclasses import dataclass
import metareg


class Anil(metareg.MetaLearner):
    """A learner that forgot predict."""
    name = "anil"

    def meta_loss(self, batch):
        raise NotImplementedError


@metareg.hookimpl
def metareg_register_learners(register):
    register(Anil)
'''

BROKEN_IMPORT = '''
import not_a_module_anywhere  # noqa: F401
'''


def test_a_duplicate_of_a_builtin_names_the_one_line_way_out(metareg_plugin_dist, monkeypatch):
    metareg_plugin_dist("metareg-impostor", {"metareg_impostor": IMPOSTOR}, {"impostor": "metareg_impostor"})
    monkeypatch.delenv("METAREG_BLOCK_PLUGINS", raising=False)
    with pytest.raises(DuplicatePartError, match="METAREG_BLOCK_PLUGINS=metareg-impostor:maml"):
        Registry.load(warn=False).get("learner", "maml")


@pytest.mark.parametrize("block", ["metareg-impostor:maml", "impostor"])
def test_blocking_the_impostor_by_part_or_plugin_name_restores_the_builtin(metareg_plugin_dist, monkeypatch,
                                                                           block):
    metareg_plugin_dist("metareg-impostor", {"metareg_impostor": IMPOSTOR}, {"impostor": "metareg_impostor"})
    monkeypatch.setenv("METAREG_BLOCK_PLUGINS", block)
    registry = Registry.load(warn=False)
    info = registry.get("learner", "maml")
    assert info.builtin and registry.blocked
    assert registry.get("learner", "protonet").builtin  # nothing else was blocked


def test_the_plugin_listing_shows_entry_point_names_and_what_was_blocked(metareg_plugin_dist, monkeypatch, run_cli):
    metareg_plugin_dist("metareg-impostor", {"metareg_impostor": IMPOSTOR}, {"impostor": "metareg_impostor"})
    monkeypatch.setenv("METAREG_BLOCK_PLUGINS", "metareg-impostor:maml")
    code, out, _ = run_cli("plugins")
    assert code == 0 and "plugin maml" in out and "plugin protonet" in out
    assert "blocked by METAREG_BLOCK_PLUGINS: learner 'maml' of metareg-impostor" in out


def test_a_part_that_breaks_its_contract_is_reported_as_broken_not_unknown(metareg_plugin_dist):
    metareg_plugin_dist("metareg-anil", {"metareg_anil": NO_PREDICT}, {"anil-plugin": "metareg_anil"})
    with pytest.raises(PluginError) as exc:
        Registry.load(warn=False).get("learner", "anil")
    text = str(exc.value)
    assert "learner 'anil' is installed but broken" in text and "predict" in text
    assert "metareg plugins --check anil-plugin" in text and "did you mean" not in text


def test_a_plugin_that_failed_to_import_says_so_with_its_reason(metareg_plugin_dist):
    metareg_plugin_dist("metareg-coral", {"metareg_coral": BROKEN_IMPORT}, {"coral": "metareg_coral"})
    registry = Registry.load(warn=False)
    with pytest.raises(PluginError) as exc:
        registry.get("adversary", "coral")
    assert "adversary 'coral' failed to load" in str(exc.value) and "not_a_module_anywhere" in str(exc.value)
    assert registry.failures[0].line().startswith("failed to import")  # the reason first


def test_unknown_part_messages_spell_family_plurals():
    with pytest.raises(UnknownPartError, match="available adversaries: dann"):
        Registry.load(warn=False).get("adversary", "danm")
