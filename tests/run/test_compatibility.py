"""One place decides whether parts can make a run: the grid's skips and the engine's errors say the same words."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from metareg.errors import IncompatibleError
from metareg.grid.expand import Block, expand
from metareg.run.compatibility import context_problem, target_problem, task_kind_problem
from metareg.run.config import parse_overrides, resolve
from metareg.run.engine import Run

from helpers.runs import TINY


def _part(name, **attrs):
    return SimpleNamespace(name=name, cls=SimpleNamespace(**attrs))


def test_each_rule_names_the_parts_and_passes_what_it_allows():
    assert task_kind_problem("protonet", ("classification",), "sinusoid", "classification") is None
    assert "learner 'protonet' handles classification tasks, but benchmark 'sinusoid' is regression" in \
        task_kind_problem("protonet", ("classification",), "sinusoid", "regression")
    contextual = _part("cavia", context_size=lambda config: 5)
    plain = SimpleNamespace(learner=contextual, backbone=_part("resnet", supports_context=False))
    assert "which backbone 'resnet' does not support" in context_problem(plain, None)
    assert context_problem(SimpleNamespace(learner=contextual, backbone=_part("mlp", supports_context=True)),
                           None) is None
    shift = SimpleNamespace(adversary=_part("dann"), benchmark=_part("sinusoid"))
    assert "benchmark 'sinusoid' (as configured) has no target domain" in target_problem(shift, False)
    assert target_problem(shift, True) is None
    assert target_problem(SimpleNamespace(adversary=None, benchmark=_part("sinusoid")), False) is None


def test_the_grid_skip_and_the_engine_error_say_the_same(registry):
    plan = expand(registry, [Block({"learner": ("maml",), "benchmark": ("sinusoid",), "adversary": ("dann",)})],
                  parse_overrides(TINY))
    (skip,) = plan.skipped
    cfg, selection = resolve(registry, parse_overrides(TINY),
                             {"learner": "maml", "benchmark": "sinusoid", "adversary": "dann"})
    with pytest.raises(IncompatibleError) as error:
        Run(cfg, selection, registry)
    assert str(error.value) == skip.reason
