"""Benchmark contract: a seeded source of tasks with disjoint train/val/test splits and an optional target pool."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Sequence

import torch

from metareg.host.contracts.part import Part, check_part_ranges
from metareg.toolkit.tasks import TaskBatch, TaskSpec


#: what a shift benchmark's unlabelled target pool may hold: target-domain samples of classes disjoint from the
#: training classes, or of the training classes themselves (the cross-platform regime)
POOL_REGIMES = ("disjoint", "shared")

#: the values of a shift benchmark's ``test_domain`` setting: test episodes of the target domain (the default), or
#: the source-domain renderings of the *same* test classes, drawn as the same episodes (what the shift costs)
TEST_DOMAINS = ("target", "source")
#: the values of a shift benchmark's ``train_domain`` setting: meta-train on the source domain (the default), on
#: labelled target-domain samples of the training classes (the oracle: the ceiling no unsupervised alignment can
#: beat), or on both
TRAIN_DOMAINS = ("source", "target", "both")
#: the values of a shift benchmark's ``val_domain`` setting: validation episodes of the source domain's validation
#: classes (the default, and the honest rule: nothing labelled of the target is seen), or of their labelled
#: target-domain samples (``metareg tune --select target-val``: an oracle, as DomainBed's "test-domain validation",
#: which the board marks as one). Either way the validation classes are disjoint from the test classes
VAL_DOMAINS = ("source", "target")
#: the domain settings at the values every shift benchmark had before they existed. A benchmark opts in by
#: declaring any of the fields in its ``Config`` (with ``metareg.Choice(*TEST_DOMAINS)``, ``Choice(*TRAIN_DOMAINS)``
#: or ``Choice(*VAL_DOMAINS)`` ranges). At these values a setting leaves a run's identity as it was, and the engine seeds evaluation episodes
#: as if neither setting existed, so the baseline, the oracle and the source-test row are tested on the very same
#: episodes (test_domain=source: the same classes and sample positions, where each test class has as many
#: source-domain samples as target-domain ones, which the benchmark arranges)
DOMAIN_DEFAULTS = {"test_domain": "target", "train_domain": "source", "val_domain": "source"}


def neutral_settings(benchmark_cls) -> dict:
    """The benchmark settings left out of a run's identity at these values: ``DOMAIN_DEFAULTS`` and the class's
    ``added_settings``. (The evaluation seed leaves the domain settings out at any value, so a baseline and its
    oracle draw the same episodes, and the added settings at these values: ``Run`` seeds it.)"""
    return {**DOMAIN_DEFAULTS, **getattr(benchmark_cls, "added_settings", {})}


def has_target_domain(benchmark: "Benchmark", seed: int = 0) -> bool:
    """Whether ``benchmark`` serves an unlabelled target pool: by the contract ``target_pool`` is None without a
    shift, so two inputs drawn with a throwaway generator tell. Planning, the engine's adversary check and the
    alignment probe all ask it this way."""
    from metareg.toolkit.tasks import torch_generator

    return benchmark.target_pool(2, torch_generator(seed, "probe")) is not None


class Benchmark(Part, ABC):
    """Constructed as ``cls(config)``; data comes from the package, from what it generates, or a path in the config.

    ``default_backbone`` names the backbone a run uses when none is given; ``train_defaults`` overrides the run's
    ``train`` section (meta-batch size, iterations) with the protocol of the benchmark's reference paper.
    """

    task_kind: ClassVar[str]  # "classification" or "regression"; decides presets and compatible learners
    default_backbone: ClassVar[str] = "mlp"
    train_defaults: ClassVar[dict] = {}
    #: settings that change only what ``target_pool`` returns, never the episodes, each with its canonical value:
    #: the engine seeds evaluation episodes as if they had that value, so runs that differ only in the pool are
    #: tested (and validated) on the very same episodes (``{"pool": "disjoint"}`` for a pool-regime setting)
    pool_only_settings: ClassVar[dict] = {}
    #: (``Part.added_settings``) a benchmark's are also left out of the evaluation seed at their declared values, as
    #: ``DOMAIN_DEFAULTS`` are, so old run ids and their episodes stay valid
    added_settings: ClassVar[dict] = {}
    spec: TaskSpec

    def __init__(self, config):
        self.config = config
        check_part_ranges(self, "benchmark", config)

    @classmethod
    def data_identity(cls, config) -> str:
        """What the benchmark's data depends on beyond its config and its plugin's version, e.g. the fonts that
        happen to be installed; ``""`` (the default) when nothing. It joins the run's identity (config hash), so
        two runs on different data never share a run id or a leaderboard row. Keep it cheap: it is computed for
        every planned cell."""
        return ""

    @abstractmethod
    def sample(self, split: str, n_tasks: int, generator: torch.Generator) -> TaskBatch:
        """``n_tasks`` tasks from ``split`` ("train", "val" or "test"); splits never share classes or samples."""

    def target_pool(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """``n`` unlabelled target-domain inputs for an adversary, disjoint from test samples; None without a shift."""
        return None

    def target_episodes(self, n: int, size: int, generator: torch.Generator) -> torch.Tensor | None:
        """``[n, size, *input]`` unlabelled target inputs, each row drawn the way an episode of ``size`` inputs is
        (``train.target_draw=episodes``: the adversary normalises each row on its own, as a test episode is
        normalised). This default cuts ``n * size`` ``target_pool`` inputs into rows, batches the size of an
        episode; a benchmark whose pool knows which inputs belong to one class overrides it to draw ``n_way``
        classes per row (``metareg.pool_episodes``). None without a shift."""
        pool = self.target_pool(n * size, generator)
        return None if pool is None else pool.view(n, size, *pool.shape[1:])

    def load_inputs(self, paths: Sequence[Path]) -> torch.Tensor:
        """Image files prepared exactly as this benchmark prepares its own inputs (size, channels, value range),
        ``[len(paths), *spec.input_shape]``: what ``metareg predict`` feeds a stored run. A benchmark whose inputs
        are not images, or that cannot read files, keeps this default, which says so."""
        from metareg.errors import IncompatibleError

        raise IncompatibleError(f"benchmark {getattr(self, 'name', type(self).__name__)!r} does not read image "
                                f"files, so its runs cannot label your images; use a run on digits, glyph-world "
                                f"or folder, or give the benchmark a load_inputs method")
