"""The workloads' networks written again in plain PyTorch, for the reference implementations.

Why not reuse metareg's backbones: the reference must share no code with what it checks, so an error in metareg's
layers (its batch norm, its FiLM) shows up as a gradient disagreement instead of being copied into the reference.
These are the networks as the best-known libraries write them: ``nn.BatchNorm2d`` without running statistics (each
batch, here each task, normalised by its own statistics), ReLU, 2x2 max-pool, and a linear head.

Parameters are consumed in metareg's order (``MetaLearner.named_parameters()``: backbone layers, then CAVIA's FiLM
map, then the head), so one list of initial weights serves every implementation; ``load`` checks the shapes.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.perf.workloads import Workload


def mlp_forward(params: Sequence[torch.Tensor], x: torch.Tensor, context: torch.Tensor | None = None,
                head: bool = True) -> torch.Tensor:
    """ReLU MLP on flattened inputs, a CAVIA context concatenated to the input; ``params`` [w, b] per layer."""
    h = x.reshape(x.shape[0], -1)
    if context is not None:
        h = torch.cat([h, context.expand(h.shape[0], -1)], dim=1)
    layers = len(params) // 2 - (1 if head else 0)
    for i in range(layers):
        h = F.relu(F.linear(h, params[2 * i], params[2 * i + 1]))
    return F.linear(h, params[-2], params[-1]) if head else h


def conv4_forward(params: Sequence[torch.Tensor], x: torch.Tensor, context: torch.Tensor | None = None,
                  film_block: int = 3, head: bool = True) -> torch.Tensor:
    """Four [conv 3x3, batch norm (batch statistics), ReLU, max-pool 2] blocks; in block ``film_block`` a FiLM
    (1 + g)·h + b from the context between batch norm and ReLU (CAVIA's place for it).

    ``params``: conv weight, conv bias, norm weight, norm bias per block; then the FiLM map's weight and bias when a
    context is given; then the head's weight and bias when ``head``.
    """
    h = x
    for i in range(4):
        w, b, gamma, beta = params[4 * i : 4 * i + 4]
        h = F.conv2d(h, w, b, padding=1)
        h = F.batch_norm(h, None, None, gamma, beta, training=True, eps=1e-5)
        if context is not None and i + 1 == film_block:
            scale, shift = F.linear(context, params[16], params[17]).chunk(2, dim=-1)
            h = h * (1 + scale).view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
        h = F.max_pool2d(F.relu(h), 2)
    h = h.flatten(1)
    return F.linear(h, params[-2], params[-1]) if head else h


def forward(workload: Workload, params, x, context=None, head: bool = True) -> torch.Tensor:
    """The workload's network on one task's inputs ``x [N, *input_shape]`` with weights ``params``."""
    if workload.backbone == "mlp":
        return mlp_forward(params, x, context, head)
    return conv4_forward(params, x, context, head=head)


def module(workload: Workload) -> nn.Module:
    """The workload's network with a head as an ordinary ``nn.Module`` (what learn2learn and higher wrap)."""
    if workload.backbone == "mlp":
        width, layers = 1, []
        for h in workload.backbone_config["hidden"]:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        return nn.Sequential(nn.Flatten(), *layers, nn.Linear(width, workload.n_outputs))
    c_in, size, ch = workload.input_shape[0], workload.input_shape[1], workload.backbone_config["channels"]
    layers = []
    for _ in range(4):
        layers += [nn.Conv2d(c_in, ch, 3, padding=1), nn.BatchNorm2d(ch, track_running_stats=False), nn.ReLU(),
                   nn.MaxPool2d(2)]
        c_in, size = ch, size // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * size * size, workload.n_outputs))


def load(target: Sequence[torch.Tensor] | nn.Module, weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Copy ``weights`` (metareg's order) into ``target``'s parameters, position by position, checking shapes."""
    params = list(target.parameters()) if isinstance(target, nn.Module) else list(target)
    if len(params) != len(weights):
        raise ValueError(f"reference network has {len(params)} parameter tensors, metareg's has {len(weights)}")
    with torch.no_grad():
        for i, (p, w) in enumerate(zip(params, weights)):
            if p.shape != w.shape:
                raise ValueError(f"parameter {i}: reference shape {tuple(p.shape)} != metareg's {tuple(w.shape)}")
            p.copy_(w)
    return params
