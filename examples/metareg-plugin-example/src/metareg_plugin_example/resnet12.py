"""ResNet-12: the four-block residual network of TADAM and MetaOptNet, the standard larger few-shot backbone."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

import metareg


class ResidualBlock(nn.Module):
    """Three [3x3 conv, batch norm] layers (leaky ReLU between), a [1x1 conv, batch norm] shortcut added to their
    output, leaky ReLU, 2x2 max-pool. Batch norm is ``metareg.TaskBatchNorm``: statistics of the current batch only,
    exact under ``vmap``, so each task is normalised by its own samples."""

    def __init__(self, c_in: int, c_out: int, slope: float):
        super().__init__()

        def conv(a: int, b: int, k: int) -> nn.Conv2d:
            return nn.Conv2d(a, b, k, padding=k // 2, bias=False)  # the batch norm's shift makes a bias redundant

        self.body = nn.Sequential(
            conv(c_in, c_out, 3), metareg.TaskBatchNorm(c_out), nn.LeakyReLU(slope),
            conv(c_out, c_out, 3), metareg.TaskBatchNorm(c_out), nn.LeakyReLU(slope),
            conv(c_out, c_out, 3), metareg.TaskBatchNorm(c_out),
        )
        self.shortcut = nn.Sequential(conv(c_in, c_out, 1), metareg.TaskBatchNorm(c_out))
        self.out = nn.Sequential(nn.LeakyReLU(slope), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x) + self.shortcut(x))


class ResNet12(metareg.Backbone):
    """ResNet-12: four residual blocks of widths ``channels``, each halving the image, then global average pooling.

    Features are the last block's channels averaged over space, so ``feature_dim = channels[-1]`` whatever the
    image size (MetaOptNet flattens the final 5x5 map of 84x84 inputs instead; TADAM pools). Images must be at
    least 16 pixels on each side (four halvings). It cannot take a CAVIA context (``supports_context = False``).
    DropBlock, which MetaOptNet adds for regularisation, is not implemented.

    Config:
        channels: the four block widths (MetaOptNet: 64, 160, 320, 640; TADAM: 64, 128, 256, 512).
        negative_slope: of the leaky ReLUs (0.1 in both papers).

    References:
        Oreshkin, Rodríguez López, Lacoste. "TADAM: Task dependent adaptive metric for improved few-shot learning".
        NeurIPS 2018, Sec. 3 (the ResNet-12 architecture). Lee, Maji, Ravichandran, Soatto. "Meta-Learning with
        Differentiable Convex Optimization". CVPR 2019, Sec. 4.2 (widths 64-160-320-640); Table 1 (mini-ImageNet
        5-way 1-shot 62.64%, 5-shot 78.63% with an SVM head).

    Example:
        metareg bench --learner protonet --benchmark digits --backbone resnet12 'backbone.resnet12.channels=[32,64,64,128]'
    """

    name = "resnet12"
    supports_context = False

    @dataclass
    class Config:
        channels: list[int] = field(default_factory=lambda: [64, 160, 320, 640])
        negative_slope: float = 0.1

    #: a few channels keep the contract checks fast; the architecture checked is the same
    check_config = {"channels": [4, 8, 8, 16]}

    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        if len(self.input_shape) != 3 or min(self.input_shape[1:]) < 16:
            raise metareg.IncompatibleError(
                f"backbone 'resnet12' needs images (channels, height, width) of at least 16x16 pixels, got input "
                f"shape {list(self.input_shape)}"
            )
        if context_dim:
            raise metareg.IncompatibleError("backbone 'resnet12' cannot take a context vector (CAVIA); use conv4")
        if len(config.channels) != 4 or min(config.channels) < 1:
            raise metareg.ConfigError(f"backbone.resnet12.channels must be four positive widths, got {config.channels}")
        widths = [self.input_shape[0], *config.channels]
        self.blocks = nn.Sequential(*[ResidualBlock(a, b, config.negative_slope) for a, b in zip(widths, widths[1:])])
        self.feature_dim = config.channels[-1]

    def forward(self, x, context=None):
        return self.blocks(x).mean(dim=(2, 3))


@metareg.hookimpl
def metareg_register_backbones(register):
    register(ResNet12)
