"""The channels-last 2x2 max-pool is ``F.max_pool2d``: values, indices, first and second derivatives, ties and NaNs."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from metareg.toolkit.max_pool import _ChannelsLastPool, is_plain_2x2, max_pool

SHAPES = [(3, 4, 28, 28), (2, 6, 7, 7), (1, 3, 14, 15), (4, 2, 3, 3)]  # even, odd (floor mode), mixed, tiny


@pytest.mark.parametrize("shape", SHAPES)
def test_values_and_indices_are_max_pool2d_s_including_ties(shape):
    g = torch.Generator().manual_seed(0)
    for x in (torch.randn(shape, generator=g), torch.randint(0, 3, shape, generator=g).float()):  # the second: ties
        values, indices = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 2, return_indices=True)
        ref_values, ref_indices = F.max_pool2d(x, 2, return_indices=True)
        assert torch.equal(values.contiguous(), ref_values) and torch.equal(indices.contiguous(), ref_indices)
        assert torch.equal(max_pool(nn.MaxPool2d(2), x), ref_values)


def test_a_nan_propagates_as_in_max_pool2d():
    x = torch.randn(2, 3, 6, 6)
    x[0, 1, 2, 3] = float("nan")
    out, ref = max_pool(nn.MaxPool2d(2), x), F.max_pool2d(x, 2)
    assert torch.equal(out.isnan(), ref.isnan()) and out.isnan().sum() == 1
    torch.testing.assert_close(out, ref, equal_nan=True, rtol=0, atol=0)


@pytest.mark.parametrize("shape", SHAPES)
def test_first_and_second_derivatives_are_max_pool2d_s_bit_for_bit(shape):
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 4, shape, generator=g).double().requires_grad_()  # ties decide where the gradient goes
    weight = torch.randn(shape[0], shape[1], shape[2] // 2, shape[3] // 2, generator=g, dtype=torch.double)
    direction = torch.randn(shape, generator=g, dtype=torch.double)

    def derivatives(pool):
        grad = torch.autograd.grad((pool(x) ** 2 * weight).sum(), x, create_graph=True)[0]
        return grad, torch.autograd.grad((grad * direction).sum(), x)[0]

    (grad, second), (ref_grad, ref_second) = derivatives(_ChannelsLastPool.apply), derivatives(
        lambda t: F.max_pool2d(t, 2))
    assert torch.equal(grad, ref_grad) and torch.equal(second, ref_second)
    assert second.abs().sum() > 0  # the square makes the second derivative non-zero, so the check means something


def test_gradgradcheck():
    x = torch.randn(2, 3, 6, 5, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_ChannelsLastPool.apply, (x,))
    assert torch.autograd.gradgradcheck(_ChannelsLastPool.apply, (x,))


@pytest.mark.parametrize("pool, plain", [
    (nn.MaxPool2d(2), True), (nn.MaxPool2d((2, 2), stride=2), True), (nn.MaxPool2d(3), False),
    (nn.MaxPool2d(2, stride=1), False), (nn.MaxPool2d(2, padding=1), False), (nn.MaxPool2d(2, ceil_mode=True), False),
    (nn.MaxPool2d(2, dilation=2), False), (nn.MaxPool2d(2, return_indices=True), False), (nn.AvgPool2d(2), False),
])
def test_only_the_plain_2x2_pool_takes_the_channels_last_path(pool, plain, monkeypatch):
    assert is_plain_2x2(pool) is plain
    calls = _count_channels_last_pools(monkeypatch)
    x = torch.randn(2, 3, 8, 8)
    out, ref = max_pool(pool, x), pool(x)
    assert len(calls) == int(plain)
    if isinstance(ref, tuple):
        assert all(torch.equal(a, b) for a, b in zip(out, ref))
    else:
        assert torch.equal(out, ref)


def test_a_non_contiguous_input_is_pooled_by_the_module_itself(monkeypatch):
    calls = _count_channels_last_pools(monkeypatch)
    x = torch.randn(2, 3, 8, 8).transpose(2, 3)
    assert torch.equal(max_pool(nn.MaxPool2d(2), x), F.max_pool2d(x, 2))
    assert calls == []


def test_the_grouped_strategy_pools_every_conv4_block_through_the_channels_last_kernel(monkeypatch):
    from metareg.toolkit.grouped import grouped_forward, stacked

    backbone = nn.Sequential(*[nn.Sequential(nn.Conv2d(1 if i == 0 else 4, 4, 3, padding=1), nn.ReLU(),
                                             nn.MaxPool2d(2)) for i in range(4)])
    layers = [(f"{i}.{j}", layer) for i, block in enumerate(backbone) for j, layer in enumerate(block)]
    params = stacked(dict(backbone.named_parameters()), 3)
    calls = _count_channels_last_pools(monkeypatch)
    grouped_forward(layers, params, torch.randn(3, 5, 1, 16, 16))
    assert len(calls) == 4


def _count_channels_last_pools(monkeypatch) -> list:
    """Every call of the channels-last path from here on, as a list that grows."""
    calls, apply = [], _ChannelsLastPool.apply
    monkeypatch.setattr(_ChannelsLastPool, "apply", lambda x: calls.append(x.shape) or apply(x))
    return calls
