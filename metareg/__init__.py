"""metareg: meta-learning under domain shift from composable parts (backbone, learner, adversary, generator, benchmark).

The public API a plugin author uses is listed in ``__all__``; names load lazily so ``metareg --help`` stays fast.
``tests/docs/test_api_stability.py`` pins it (names, signatures, contract methods, hook specs): a change to it is a
deliberate edit of ``tests/docs/api_surface.txt``, never a side effect. docs/plugins.md is the author's guide to it.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "metareg.host.hookspecs",
    "hookspec": "metareg.host.hookspecs",
    "Part": "metareg.host.contracts.part",
    "NoConfig": "metareg.host.contracts.part",
    "Range": "metareg.host.ranges",
    "Choice": "metareg.host.ranges",
    "LogUniform": "metareg.host.search",
    "Uniform": "metareg.host.search",
    "IntUniform": "metareg.host.search",
    "Categorical": "metareg.host.search",
    "Backbone": "metareg.host.contracts.backbone",
    "MetaLearner": "metareg.host.contracts.learner",
    "LearnerOutput": "metareg.host.contracts.learner",
    "GradientLearner": "metareg.host.contracts.gradient_learner",
    "Adversary": "metareg.host.contracts.adversary",
    "AdversaryOutput": "metareg.host.contracts.adversary",
    "Generator": "metareg.host.contracts.generator",
    "Benchmark": "metareg.host.contracts.benchmark",
    "TaskBatch": "metareg.toolkit.tasks",
    "TaskSpec": "metareg.toolkit.tasks",
    "ClassPool": "metareg.toolkit.tasks",
    "EpisodeSplits": "metareg.toolkit.episodic",
    "IMAGE_TRAIN_DEFAULTS": "metareg.toolkit.episodic",
    "pool_episodes": "metareg.toolkit.pool_episodes",
    "TaskBatchNorm": "metareg.toolkit.layers",
    "batch_norm_weights": "metareg.toolkit.sample_weights",
    "SplitStreams": "metareg.toolkit.streams",
    "per_class_references": "metareg.toolkit.tasks",
    "with_query_weights": "metareg.toolkit.sample_weights",
    "Registry": "metareg.host.registry",
    "MetaregError": "metareg.errors",
    "ConfigError": "metareg.errors",
    "ContractError": "metareg.errors",
    "IncompatibleError": "metareg.errors",
    "PluginError": "metareg.errors",
    "UnknownPartError": "metareg.errors",
    "DuplicatePartError": "metareg.errors",
    "StoreError": "metareg.errors",
    "load_run": "metareg.run.predict",
    "LoadedRun": "metareg.run.predict",
    # the toolkit the built-ins build on (docs/plugins.md, "The toolkit")
    "sgd_steps": "metareg.toolkit.functional",
    "per_task": "metareg.toolkit.functional",
    "task_losses": "metareg.toolkit.functional",
    "class_means": "metareg.toolkit.functional",
    "task_loss": "metareg.toolkit.functional",
    "STRATEGIES": "metareg.toolkit.strategies",
    "resolve_strategy": "metareg.toolkit.strategies",
    "adapt_tasks": "metareg.toolkit.strategies",
    "forward_tasks": "metareg.toolkit.strategies",
    "embed_tasks": "metareg.toolkit.strategies",
    "learner_layers": "metareg.toolkit.grouped",
    "open_image": "metareg.toolkit.image_files",
    "reverse_gradient": "metareg.toolkit.layers",
    "INIT_SCHEMES": "metareg.toolkit.layers",
    "kaiming_init": "metareg.toolkit.layers",
    "POOL_REGIMES": "metareg.host.contracts.benchmark",
    "TEST_DOMAINS": "metareg.host.contracts.benchmark",
    "TRAIN_DOMAINS": "metareg.host.contracts.benchmark",
    "VAL_DOMAINS": "metareg.host.contracts.benchmark",
    "seed_hash": "metareg.toolkit.tasks",
    "torch_generator": "metareg.toolkit.tasks",
    "split_items": "metareg.toolkit.tasks",
    "split_domains": "metareg.toolkit.tasks",
    "write_atomic": "metareg.toolkit.atomic",
}
#: public submodules, imported on first attribute access (``metareg.testing.check_plugin``)
_SUBMODULES = ("testing",)

#: the public API, spelled out so that a reader (and pyflakes) sees it; tests check it matches the maps above
__all__ = [
    "Adversary", "AdversaryOutput", "Backbone", "Benchmark", "Categorical", "Choice", "ClassPool", "ConfigError", "ContractError",
    "DuplicatePartError", "EpisodeSplits", "Generator", "GradientLearner", "IncompatibleError", "IntUniform", "LearnerOutput", "LogUniform",
    "MetaLearner", "MetaregError", "NoConfig", "LoadedRun", "Part", "PluginError", "Range", "Registry", "StoreError",
    "TaskBatch", "TaskBatchNorm", "TaskSpec", "Uniform", "UnknownPartError", "hookimpl", "hookspec", "load_run", "testing",
    "__version__",
    # the toolkit
    "IMAGE_TRAIN_DEFAULTS", "INIT_SCHEMES", "POOL_REGIMES", "STRATEGIES", "SplitStreams", "TEST_DOMAINS", "TRAIN_DOMAINS",
    "VAL_DOMAINS", "adapt_tasks",
    "batch_norm_weights", "class_means", "embed_tasks", "forward_tasks", "kaiming_init", "learner_layers", "open_image",
    "per_class_references", "per_task", "pool_episodes", "resolve_strategy", "reverse_gradient", "seed_hash",
    "sgd_steps",
    "split_domains", "split_items", "task_loss", "task_losses", "torch_generator", "with_query_weights", "write_atomic",
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
    from metareg.host.contracts.adversary import Adversary, AdversaryOutput
    from metareg.host.contracts.backbone import Backbone
    from metareg.host.contracts.benchmark import (POOL_REGIMES, TEST_DOMAINS, TRAIN_DOMAINS, VAL_DOMAINS,
                                                 Benchmark)
    from metareg.host.contracts.generator import Generator
    from metareg.host.contracts.gradient_learner import GradientLearner
    from metareg.host.contracts.learner import LearnerOutput, MetaLearner
    from metareg.host.contracts.part import NoConfig, Part
    from metareg.errors import (ConfigError, ContractError, DuplicatePartError, IncompatibleError, MetaregError,
                                PluginError, StoreError, UnknownPartError)
    from metareg import testing
    from metareg.host.hookspecs import hookimpl, hookspec
    from metareg.toolkit.functional import class_means, per_task, sgd_steps, task_loss, task_losses
    from metareg.toolkit.grouped import learner_layers
    from metareg.toolkit.image_files import open_image
    from metareg.toolkit.strategies import (STRATEGIES, adapt_tasks, embed_tasks, forward_tasks,
                                            resolve_strategy)
    from metareg.toolkit.layers import INIT_SCHEMES, TaskBatchNorm, kaiming_init, reverse_gradient
    from metareg.host.ranges import Choice, Range
    from metareg.host.search import Categorical, IntUniform, LogUniform, Uniform
    from metareg.host.registry import Registry
    from metareg.run.predict import LoadedRun, load_run
    from metareg.toolkit.atomic import write_atomic
    from metareg.toolkit.episodic import IMAGE_TRAIN_DEFAULTS, EpisodeSplits
    from metareg.toolkit.pool_episodes import pool_episodes
    from metareg.toolkit.sample_weights import batch_norm_weights, with_query_weights
    from metareg.toolkit.streams import SplitStreams
    from metareg.toolkit.tasks import (ClassPool, TaskBatch, TaskSpec, per_class_references, seed_hash,
                                       split_domains, split_items, torch_generator)
