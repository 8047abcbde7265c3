"""Adversary contract: a domain-alignment loss between source-task features and unlabelled target features."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import nn

from metareg.host.contracts.part import Part, check_part_ranges


@dataclass
class AdversaryOutput:
    """``loss`` is added to the meta-loss as it is (weights and schedules are the adversary's own business).

    ``metrics`` are logged in the run's history as ``adversary_<name>``. An adversary with a domain classifier
    should report its accuracy as ``domain_accuracy``: the leaderboard shows it (last quarter of meta-training)
    beside the test metric, since a gain or loss from alignment means little without knowing whether it aligned.
    """

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


class Adversary(Part, nn.Module, ABC):
    """Constructed as ``cls(feature_dim, config)``; its parameters join the outer optimiser.

    It only sees features, never a learner's internals, which is why any adversary composes with any learner.

    Two optimiser settings are the engine's to honour, read from the ``Config`` fields of these names where the
    adversary declares them (a discriminator's own training regime, as GAN and DANN implementations set it):
    ``lr_multiplier`` (its parameters' learning rate as a multiple of ``train.outer_lr``) and
    ``discriminator_steps`` (updates of its own parameters per outer update: the first with the meta-loss, the
    others alone, on features of the same meta-batch and fresh target draws, taken before it).
    """

    def __init__(self, feature_dim: int, config):
        nn.Module.__init__(self)
        self.feature_dim = feature_dim
        self.config = config
        check_part_ranges(self, "adversary", config)

    @property
    def lr_multiplier(self) -> float:
        """Its parameters' learning rate over ``train.outer_lr``: ``Config.lr_multiplier``, or 1."""
        return float(getattr(self.config, "lr_multiplier", 1.0))

    @property
    def steps_per_update(self) -> int:
        """Updates of its own parameters per outer update: ``Config.discriminator_steps``, or 1."""
        return int(getattr(self.config, "discriminator_steps", 1))

    @abstractmethod
    def forward(self, source: torch.Tensor, target: torch.Tensor, progress: float) -> AdversaryOutput:
        """Alignment loss of ``source [N, F]`` against ``target [M, F]``; ``progress`` goes 0 → 1 over training."""
