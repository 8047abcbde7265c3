"""2x2 max-pooling on the CPU through PyTorch's channels-last kernel: ``F.max_pool2d``'s values, indices and
derivatives, in a fraction of its time.

Why: PyTorch's CPU max-pool kernel for contiguous (NCHW) tensors is scalar. On a Conv4 query batch's first layer
(75 x 64 x 28 x 28) it measured ~19 ms on one thread, where its channels-last kernel takes ~2.5 ms; in a second-order
Conv4 MAML step it was 18% of the time (docs/performance.md). Converting the input to channels-last, pooling there
and converting the values and indices back measured 2-4x faster than the NCHW kernel alone at every Conv4 size. The
backward is PyTorch's own ``max_pool2d_with_indices_backward`` on those indices, which autograd differentiates again,
so first and second derivatives are bit for bit ``F.max_pool2d``'s; ties and NaNs go where its kernel sends them,
because the indices are its kernel's. On other devices (a GPU's kernel has no such gap) and for any pooling but the
plain 2x2 one, ``max_pool`` calls the module itself.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_TWO = (2, 2)


class _ChannelsLastPool(torch.autograd.Function):
    """2x2, stride-2 max-pool of a contiguous ``[N, C, H, W]`` CPU tensor, returned contiguous."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        values, indices = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 2, return_indices=True)
        indices = indices.contiguous()
        ctx.save_for_backward(x, indices)
        return values.contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        x, indices = ctx.saved_tensors
        return torch.ops.aten.max_pool2d_with_indices_backward(grad, x, list(_TWO), list(_TWO), [0, 0], [1, 1], False,
                                                               indices)


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def is_plain_2x2(pool: nn.Module) -> bool:
    """Whether ``pool`` is an ``nn.MaxPool2d`` of kernel and stride 2, no padding or dilation, floor mode."""
    return (isinstance(pool, nn.MaxPool2d) and not pool.return_indices and not pool.ceil_mode
            and _pair(pool.kernel_size) == _TWO and _pair(pool.stride or pool.kernel_size) == _TWO
            and _pair(pool.padding) == (0, 0) and _pair(pool.dilation) == (1, 1))


def max_pool(pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``pool(x)``, through the channels-last kernel when that is the same computation and faster: a plain 2x2
    ``nn.MaxPool2d`` on a 4-d CPU tensor that is contiguous. Anything else runs ``pool(x)`` itself."""
    if x.device.type == "cpu" and x.dim() == 4 and x.is_contiguous() and is_plain_2x2(pool):
        return _ChannelsLastPool.apply(x)
    return pool(x)
