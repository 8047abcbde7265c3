"""metareg: meta-learning under domain shift from composable parts (backbone, learner, adversary, generator, benchmark).

The public API a plugin author uses is listed in ``__all__``; names load lazily so ``metareg --help`` stays fast.
``tests/test_api_stability.py`` pins it (names, signatures, contract methods, hook specs): a change to it is a
deliberate edit of ``tests/api_surface.txt``, never a side effect. docs/plugins.md is the author's guide to it.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "metareg.hookspecs",
    "hookspec": "metareg.hookspecs",
    "Part": "metareg.contracts.part",
    "NoConfig": "metareg.contracts.part",
    "Range": "metareg.ranges",
    "Choice": "metareg.ranges",
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
    "TaskBatchNorm": "metareg.layers",
    "Registry": "metareg.registry",
    "MetaregError": "metareg.errors",
    "ConfigError": "metareg.errors",
    "ContractError": "metareg.errors",
    "IncompatibleError": "metareg.errors",
    "PluginError": "metareg.errors",
    "UnknownPartError": "metareg.errors",
    "DuplicatePartError": "metareg.errors",
    "StoreError": "metareg.errors",
    "load_run": "metareg.predict",
    "LoadedRun": "metareg.predict",
    # the toolkit the built-ins build on (docs/plugins.md, "The toolkit")
    "sgd_steps": "metareg.functional",
    "per_task": "metareg.functional",
    "embed_tasks": "metareg.functional",
    "class_means": "metareg.functional",
    "task_loss": "metareg.functional",
    "STRATEGIES": "metareg.functional",
    "resolve_strategy": "metareg.functional",
    "reverse_gradient": "metareg.layers",
    "INIT_SCHEMES": "metareg.layers",
    "kaiming_init": "metareg.layers",
    "POOL_REGIMES": "metareg.contracts.benchmark",
    "seed_hash": "metareg.tasks",
    "torch_generator": "metareg.tasks",
    "split_items": "metareg.tasks",
}
#: public submodules, imported on first attribute access (``metareg.testing.check_plugin``)
_SUBMODULES = ("testing",)

#: the public API, spelled out so that a reader (and pyflakes) sees it; tests check it matches the maps above
__all__ = [
    "Adversary", "AdversaryOutput", "Backbone", "Benchmark", "Choice", "ClassPool", "ConfigError", "ContractError",
    "DuplicatePartError", "Generator", "IncompatibleError", "LearnerOutput", "MetaLearner", "MetaregError", "NoConfig",
    "LoadedRun", "Part", "PluginError", "Range", "Registry", "StoreError", "TaskBatch", "TaskBatchNorm", "TaskSpec",
    "UnknownPartError", "hookimpl", "hookspec", "load_run", "testing", "__version__",
    # the toolkit
    "INIT_SCHEMES", "POOL_REGIMES", "STRATEGIES", "class_means", "embed_tasks", "kaiming_init", "per_task",
    "resolve_strategy", "reverse_gradient", "seed_hash", "sgd_steps", "split_items", "task_loss", "torch_generator",
]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"metareg.{name}")
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metareg' has no attribute {name!r}")


def __dir__():
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from metareg.contracts.adversary import Adversary, AdversaryOutput
    from metareg.contracts.backbone import Backbone
    from metareg.contracts.benchmark import POOL_REGIMES, Benchmark
    from metareg.contracts.generator import Generator
    from metareg.contracts.learner import LearnerOutput, MetaLearner
    from metareg.contracts.part import NoConfig, Part
    from metareg.errors import (ConfigError, ContractError, DuplicatePartError, IncompatibleError, MetaregError,
                                PluginError, StoreError, UnknownPartError)
    from metareg import testing
    from metareg.hookspecs import hookimpl, hookspec
    from metareg.functional import (STRATEGIES, class_means, embed_tasks, per_task, resolve_strategy, sgd_steps,
                                    task_loss)
    from metareg.layers import INIT_SCHEMES, TaskBatchNorm, kaiming_init, reverse_gradient
    from metareg.ranges import Choice, Range
    from metareg.registry import Registry
    from metareg.predict import LoadedRun, load_run
    from metareg.tasks import ClassPool, TaskBatch, TaskSpec, seed_hash, split_items, torch_generator
