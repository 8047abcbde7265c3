"""The standard few-shot backbones: an MLP (regression, MAML's 40-40) and Conv4 (the 4 x 64-filter convnet)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

import metareg
from metareg import INIT_SCHEMES, TaskBatchNorm, kaiming_init


class MLP(metareg.Backbone):
    """Fully connected ReLU network on flattened inputs; a CAVIA context is concatenated to the input.

    Config:
        hidden: widths of the hidden layers; the last is the feature size (MAML's sinusoid network is 40-40).
        init: ``torch`` (PyTorch's defaults, as the MAML and CAVIA regression references use) or ``kaiming``
            (He-uniform for ReLU, zero biases).

    References: Finn et al. 2017, "Model-Agnostic Meta-Learning", Sec. 5.1 (sinusoid: 2 hidden layers of 40 ReLU).
    """

    name = "mlp"

    @dataclass
    class Config:
        hidden: list[int] = field(default_factory=lambda: [40, 40])
        init: str = "torch"

    ranges = {"hidden": metareg.Range.at_least(1), "init": metareg.Choice(*INIT_SCHEMES)}

    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        if not config.hidden:
            raise metareg.ConfigError("backbone.mlp.hidden needs at least one layer width, e.g. [40, 40]")
        layers: list[nn.Module] = []
        width = math.prod(self.input_shape) + context_dim
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.net = nn.Sequential(*layers)
        self.feature_dim = width
        if config.init == "kaiming":
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    kaiming_init(layer, "relu")

    def task_layers(self):
        """The layers in the order ``forward`` applies them to flattened inputs, so a learner can run every task
        at once with its own weights (``metareg.adapt_tasks`` under ``vectorize=grouped``); ``None`` with a context."""
        return None if self.context_dim else [(f"net.{i}", layer) for i, layer in enumerate(self.net)]

    def forward(self, x, context=None):
        x = x.reshape(x.shape[0], -1)
        if self.context_dim:
            if context is None:
                context = x.new_zeros(self.context_dim)
            x = torch.cat([x, context.expand(x.shape[0], -1)], dim=1)
        return self.net(x)


class Conv4(metareg.Backbone):
    """Four blocks of [3x3 conv, batch norm (per-task batch statistics), ReLU, 2x2 max-pool]: the few-shot standard.

    A CAVIA context conditions the features FiLM-style (per-channel scale and shift from a linear map of the
    context) inside block ``film_block``, after its batch norm and before its ReLU.

    Config:
        channels: filters per conv layer (64 in MAML, ProtoNet, CAVIA).
        film_block: the block (1-4) whose features a context modulates, when the learner asks for one (CAVIA: 3).
        init: ``torch`` (PyTorch's defaults) or ``kaiming``: He-uniform conv weights for ReLU with zero biases, and
            He-uniform FiLM weights for a linear output (its bias left at PyTorch's default), as CAVIA's reference
            (``classification/models.py``, ``--nn_initialisation kaiming``); CAVIA's classification preset picks
            it. Batch norm starts at scale 1, shift 0 either way.

    References: Vinyals et al. 2016; Finn et al. 2017 (Sec. 5.2); Snell et al. 2017; Zintgraf et al. 2019 (FiLM).
    """

    name = "conv4"

    @dataclass
    class Config:
        channels: int = 64
        film_block: int = 3
        init: str = "torch"

    ranges = {"channels": metareg.Range.at_least(1), "film_block": metareg.Range.between(1, 4),
              "init": metareg.Choice(*INIT_SCHEMES)}

    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        if len(self.input_shape) != 3:
            raise metareg.IncompatibleError(
                f"backbone 'conv4' needs image inputs (channels, height, width), got input shape {self.input_shape}"
            )
        c_in, h, w = self.input_shape
        blocks = []
        for _ in range(4):
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(c_in, config.channels, 3, padding=1),
                    TaskBatchNorm(config.channels),
                    nn.ReLU(),
                    nn.MaxPool2d(2),
                )
            )
            c_in, h, w = config.channels, h // 2, w // 2
        if h < 1 or w < 1:
            raise metareg.IncompatibleError(f"conv4 needs inputs of at least 16x16 pixels, got {self.input_shape}")
        self.blocks = nn.ModuleList(blocks)
        self.film = nn.Linear(context_dim, 2 * config.channels) if context_dim else None
        self.feature_dim = config.channels * h * w
        if config.init == "kaiming":
            for block in self.blocks:
                kaiming_init(block[0], "relu")
            if self.film is not None:
                kaiming_init(self.film, "linear", zero_bias=False)

    def task_layers(self):
        """The layers in the order ``forward`` applies them (then a flatten), so a learner can run every task at
        once with its own weights (``metareg.adapt_tasks`` under ``vectorize=grouped``); ``None`` with a context
        (FiLM)."""
        if self.film is not None:
            return None
        return [(f"blocks.{i}.{j}", layer) for i, block in enumerate(self.blocks) for j, layer in enumerate(block)]

    def forward(self, x, context=None):
        for i, (conv, norm, relu, pool) in enumerate(self.blocks, start=1):
            x = norm(conv(x))
            if self.film is not None and i == self.config.film_block:
                x = self._film(x, context)
            x = pool(relu(x))
        return x.flatten(1)

    def _film(self, x, context):
        """(1 + γ)·h + β per channel, between batch norm and ReLU as in CAVIA's reference network.

        Before the ReLU the shift decides which units fire; after the block it would be an affine map of the
        block's output, which the next block's batch norm largely cancels (a per-channel shift passes through the
        conv as a constant and is subtracted with the batch mean), leaving the context little to adapt.
        ``1 + γ`` rather than ``γ`` makes a zero context the identity, so the network starts unconditioned.
        """
        if context is None:
            context = x.new_zeros(self.context_dim)
        gamma, beta = self.film(context).chunk(2, dim=-1)
        return x * (1 + gamma).view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)


@metareg.hookimpl
def metareg_register_backbones(register):
    register(MLP)
    register(Conv4)
