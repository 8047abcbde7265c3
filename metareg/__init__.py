"""metareg: meta-learning under domain shift from composable parts (backbone, learner, adversary, generator, benchmark).

The public API a plugin author uses is listed in ``__all__``; names load lazily so ``metareg --help`` stays fast.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "metareg.hookspecs",
    "hookspec": "metareg.hookspecs",
    "Backbone": "metareg.contracts.backbone",
    "MetaLearner": "metareg.contracts.learner",
    "LearnerOutput": "metareg.contracts.learner",
    "Adversary": "metareg.contracts.adversary",
    "AdversaryOutput": "metareg.contracts.adversary",
    "Generator": "metareg.contracts.generator",
    "Benchmark": "metareg.contracts.benchmark",
    "TaskBatch": "metareg.tasks",
    "TaskSpec": "metareg.tasks",
    "ClassPool": "metareg.tasks",
    "Registry": "metareg.registry",
    "MetaregError": "metareg.errors",
    "ConfigError": "metareg.errors",
    "ContractError": "metareg.errors",
    "IncompatibleError": "metareg.errors",
    "PluginError": "metareg.errors",
    "UnknownPartError": "metareg.errors",
    "DuplicatePartError": "metareg.errors",
}
_ALIASES: dict[str, str] = {}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        value = getattr(module, _ALIASES.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metareg' has no attribute {name!r}")


def __dir__():
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from metareg.contracts.adversary import Adversary, AdversaryOutput
    from metareg.contracts.backbone import Backbone
    from metareg.contracts.benchmark import Benchmark
    from metareg.contracts.generator import Generator
    from metareg.contracts.learner import LearnerOutput, MetaLearner
    from metareg.errors import (ConfigError, ContractError, DuplicatePartError, IncompatibleError, MetaregError,
                                PluginError, UnknownPartError)
    from metareg.hookspecs import hookimpl, hookspec
    from metareg.registry import Registry
    from metareg.tasks import ClassPool, TaskBatch, TaskSpec
