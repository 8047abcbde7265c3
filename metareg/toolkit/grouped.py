"""The grouped strategy: every task of a meta-batch at once, each with its own weights stacked on a leading dimension.

Why a strategy of its own: on the CPU a per-task convolution under ``vmap`` measured ~2x slower than a per-task
loop, while one convolution with ``groups=T`` over the tasks' channels is the loop's arithmetic in a few large
kernels (docs/performance.md). It needs to know the network's layers in order, which a backbone offers through
``task_layers()`` and a learner of the form ``head(backbone(x))`` through ``learner_layers``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from metareg.toolkit.max_pool import max_pool

Params = dict[str, torch.Tensor]

#: layers that act per sample and per channel, so they are exact on the [N, T*C, ...] layout of all tasks
_LAYOUT_SAFE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Identity)


def grouped_forward(layers: list[tuple[str, nn.Module]], params: Params, x: torch.Tensor,
                    weight: torch.Tensor | None = None) -> torch.Tensor:
    """Run ``layers`` on every task at once, each task with its own weights: ``x [T, N, *in]`` -> ``[T, N, out]``.

    ``params`` maps ``"{layer name}.{weight|bias}"`` to tensors with a leading task dimension ``[T, *shape]``.
    Convolutional layers run on the layout ``[N, T*C, H, W]``, where a per-task convolution is one convolution with
    ``groups=T`` and a per-task batch norm is an ordinary batch norm over the ``T*C`` channels (each task's own
    statistics, exactly as ``TaskBatchNorm``); a 2x2 max-pool runs through ``metareg.toolkit.max_pool`` (on the
    CPU its channels-last kernel: the same values and derivatives, 2-4x faster). The first ``nn.Linear`` flattens
    each task's features to ``[T, N, F]``, and linear layers are batched matrix products. Why: on the CPU this is the same arithmetic as a
    per-task loop in a few large, contiguous kernels, where ``vmap`` of the same convolutions was measured ~2x
    slower than the loop (docs/performance.md). No ``vmap``, so ``F.batch_norm`` is exact here. ``weight [T, N]``
    weighs each sample in its task's batch-norm statistics, as ``metareg.batch_norm_weights`` does in the loop.
    """
    from metareg.toolkit.layers import TaskBatchNorm

    tasks, n = x.shape[:2]
    flat = not isinstance(layers[0][1], nn.Conv2d)  # a network that starts with a linear layer flattens its inputs
    h = x.flatten(2) if flat else x.transpose(0, 1).reshape(n, tasks * x.shape[2], *x.shape[3:])
    layers = _pool_before_relu(layers)
    for name, layer in layers:
        if isinstance(layer, nn.Linear):
            if not flat:
                h, flat = h.reshape(n, tasks, -1).transpose(0, 1), True
            w, b = params[f"{name}.weight"], params.get(f"{name}.bias")
            h = torch.bmm(h, w.transpose(1, 2)) if b is None else torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        elif isinstance(layer, nn.Conv2d) and not flat:
            w, b = params[f"{name}.weight"], params.get(f"{name}.bias")
            h = F.conv2d(h, w.flatten(0, 1), None if b is None else b.flatten(), layer.stride, layer.padding,
                         layer.dilation, tasks * layer.groups)
        elif isinstance(layer, TaskBatchNorm) and not flat and weight is not None:
            h = _weighted_batch_norm(h, weight, params[f"{name}.weight"], params[f"{name}.bias"], layer.eps)
        elif isinstance(layer, TaskBatchNorm) and not flat:
            h = F.batch_norm(h, None, None, params[f"{name}.weight"].flatten(), params[f"{name}.bias"].flatten(),
                             training=True, eps=layer.eps)
        elif isinstance(layer, nn.MaxPool2d) and not flat:
            h = max_pool(layer, h)
        elif isinstance(layer, _LAYOUT_SAFE):
            h = layer(h)
        else:
            raise TypeError(f"grouped_forward cannot run layer {name!r} ({type(layer).__name__}) on all tasks at once")
    if not flat:
        h = h.reshape(n, tasks, -1).transpose(0, 1)
    return h


def _weighted_batch_norm(h: torch.Tensor, weight: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                         eps: float) -> torch.Tensor:
    """``TaskBatchNorm`` with weighted statistics on the grouped layout: ``h [N, T*C, ...]``, task t's samples
    weighed by ``weight [T, N]`` in its own statistics (as ``metareg.toolkit.layers.weighted_moments``), with
    ``gamma``/``beta`` ``[T, C]``."""
    n, tasks = h.shape[0], weight.shape[0]
    spatial = h.shape[2:]
    per_task = h.reshape(n, tasks, -1, *spatial)  # [N, T, C, ...]
    ones = [1] * len(spatial)
    w = weight.t().to(h.dtype).reshape(n, tasks, 1, *ones)
    dims = [0, *range(3, per_task.dim())]
    total = (weight.to(h.dtype).sum(1) * math.prod(spatial)).clamp_min(torch.finfo(h.dtype).tiny)
    total = total.reshape(1, tasks, 1, *ones)
    mean = (w * per_task).sum(dim=dims, keepdim=True) / total
    var = (w * (per_task - mean).pow(2)).sum(dim=dims, keepdim=True) / total
    shape = [1, tasks, -1, *ones]
    out = (per_task - mean) * torch.rsqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)
    return out.reshape(h.shape)


def _pool_before_relu(layers: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """ReLU then max-pool as max-pool then ReLU: the same function (max commutes with a non-decreasing map, and an
    all-negative window has zero gradient either way), with the ReLU and its derivatives on a quarter of the
    elements (a 2x2 pool): ~4% of a Conv4 MAML meta-step on one CPU thread (measured under load, so roughly)."""
    out = list(layers)
    for i in range(len(out) - 1):
        (_, first), (_, second) = out[i], out[i + 1]
        if type(first) is nn.ReLU and type(second) is nn.MaxPool2d:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def stacked(params: Params, tasks: int) -> Params:
    """``params`` repeated (as views) along a new leading task dimension: every task starts from the same weights,
    and autograd sums the tasks' gradients back onto the shared tensors."""
    return {k: v.expand(tasks, *v.shape) for k, v in params.items()}




def task_layers(backbone: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """The backbone's ``task_layers()`` (its layers in the order its forward applies them, then a flatten), or
    ``None`` when it offers none: then the grouped strategy is not available for it."""
    method = getattr(backbone, "task_layers", None)
    return method() if callable(method) else None


def learner_layers(backbone: nn.Module, head: nn.Module) -> list[tuple[str, nn.Module]]:
    """``task_layers`` of a learner that holds ``self.backbone`` and then applies ``self.head`` to its features."""
    return [(f"backbone.{name}", layer) for name, layer in task_layers(backbone)] + [("head", head)]
