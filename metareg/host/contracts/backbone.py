"""Backbone contract: an ``nn.Module`` from inputs to a feature vector, built from the benchmark's input shape."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn

from metareg.host.contracts.part import Part, check_part_ranges


class Backbone(Part, nn.Module, ABC):
    """Maps ``x [N, *input_shape]`` to features ``[N, feature_dim]``.

    Constructed as ``cls(input_shape, config, context_dim=0)``. When ``context_dim > 0`` the backbone must accept a
    ``context`` vector ``[context_dim]`` in ``forward`` and condition on it (CAVIA); ``supports_context = False``
    declares that it cannot. Subclasses set ``self.feature_dim`` in their constructor.

    ``supports_vmap = True`` (the default) promises that ``torch.func.vmap`` over a leading task dimension gives the
    features a loop over tasks gives (batch norm from each task's own batch: ``metareg.TaskBatchNorm``), which the
    batched learners rely on; a backbone that cannot keep that promise sets it to ``False`` and is used with a
    learner's ``vectorize=loop``. ``metareg plugins --check`` verifies both declarations.
    """

    supports_context: ClassVar[bool] = True
    supports_vmap: ClassVar[bool] = True
    feature_dim: int

    def __init__(self, input_shape: tuple[int, ...], config, context_dim: int = 0):
        nn.Module.__init__(self)
        self.input_shape = tuple(input_shape)
        self.config = config
        self.context_dim = context_dim
        check_part_ranges(self, "backbone", config)

    @abstractmethod
    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Features of a batch of inputs."""
