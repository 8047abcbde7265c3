"""ResNet-12: four residual blocks, the parameter count of the published network, and its declared limits."""
from __future__ import annotations

import pytest
import torch

import metareg
from metareg_plugin_example.resnet12 import ResNet12


def _published_parameter_count(c_in: int, widths: list[int]) -> int:
    """Per block: three 3x3 convs (no bias), a 1x1 shortcut conv, four batch norms with a weight and a bias each."""
    total = 0
    for a, b in zip([c_in, *widths], widths):
        total += 9 * a * b + 2 * 9 * b * b + a * b + 4 * 2 * b
    return total


def test_the_default_widths_give_the_12_4_million_parameters_of_metaoptnets_resnet12():
    net = ResNet12((3, 84, 84), ResNet12.Config())
    count = sum(p.numel() for p in net.parameters())
    assert count == _published_parameter_count(3, [64, 160, 320, 640]) == 12_424_320


@pytest.mark.parametrize("size", [16, 28])
def test_features_are_the_last_width_whatever_the_image_size(size):
    net = ResNet12((1, size, size), ResNet12.Config(channels=[4, 8, 8, 16]))
    assert net.feature_dim == 16
    assert net(torch.randn(5, 1, size, size)).shape == (5, 16)


def test_each_block_adds_its_shortcut_to_the_three_convolutions():
    net = ResNet12((1, 16, 16), ResNet12.Config(channels=[4, 8, 8, 16]))
    block = net.blocks[0]
    x = torch.randn(3, 1, 16, 16)
    expected = torch.nn.functional.max_pool2d(
        torch.nn.functional.leaky_relu(block.body(x) + block.shortcut(x), 0.1), 2)
    assert torch.allclose(block(x), expected)


def test_it_declines_vectors_small_images_and_contexts():
    with pytest.raises(metareg.IncompatibleError, match="16x16"):
        ResNet12((5,), ResNet12.Config())
    with pytest.raises(metareg.IncompatibleError, match="16x16"):
        ResNet12((1, 8, 8), ResNet12.Config())
    with pytest.raises(metareg.IncompatibleError, match="context"):
        ResNet12((1, 16, 16), ResNet12.Config(), context_dim=3)
    with pytest.raises(metareg.ConfigError, match="four"):
        ResNet12((1, 16, 16), ResNet12.Config(channels=[4, 8]))
