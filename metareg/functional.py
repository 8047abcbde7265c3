"""Building blocks the gradient-based learners share: task losses, per-task metrics, and the inner SGD loop.

The inner loop is written on parameter dictionaries with ``torch.func`` so one task's adaptation is a pure function,
which ``vmap`` turns into the whole meta-batch at once and which a plain loop calls task by task: the same code is
the batched path and its reference.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

Params = dict[str, torch.Tensor]


def task_loss(kind: str, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits for classification, mean squared error for regression (one task or flattened)."""
    if kind == "classification":
        return F.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1))
    return F.mse_loss(prediction, target)


def task_metric(kind: str, prediction: torch.Tensor, target: torch.Tensor) -> tuple[str, torch.Tensor]:
    """The per-task evaluation metric of ``[tasks, queries, outputs]`` predictions: accuracy or MSE, shape [tasks]."""
    if kind == "classification":
        return "accuracy", (prediction.argmax(-1) == target).float().mean(dim=1)
    return "mse", (prediction - target).pow(2).flatten(1).mean(dim=1)


def sgd_steps(
    loss_fn: Callable[[Params], torch.Tensor],
    params: Params,
    steps: int,
    lr: float,
    first_order: bool = False,
) -> Params:
    """``steps`` plain gradient steps on ``loss_fn`` from ``params``.

    The gradient is taken with ``torch.func.grad``, so outer autograd sees through the steps (second order) unless
    ``first_order`` detaches it; that is all first-order MAML is.
    """
    grad_fn = torch.func.grad(loss_fn)
    for _ in range(steps):
        grads = grad_fn(params)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}
        params = {k: params[k] - lr * grads[k] for k in params}
    return params


def per_task(fn: Callable, vectorize: bool, *batched: torch.Tensor):
    """Apply ``fn`` to each task of tensors with a leading task dimension: ``vmap`` or a plain loop, same result."""
    if vectorize:
        return torch.func.vmap(fn, randomness="different")(*batched)
    outs = [fn(*(t[i] for t in batched)) for i in range(batched[0].shape[0])]
    if isinstance(outs[0], tuple):
        return tuple(torch.stack(o) for o in zip(*outs))
    return torch.stack(outs)


def resolve_vectorize(setting: str, module: nn.Module, device: torch.device) -> bool:
    """``vmap`` or ``loop`` for ``vectorize=auto``.

    vmapped convolutions with per-task weights were measured ~2x slower than a per-task loop on CPU (issue 8's
    baseline numbers: Conv4 5-way 1-shot, 2 cores), while on GPU and for MLPs the batched path wins. ``vmap`` and
    ``loop`` force a strategy.
    """
    if setting not in ("auto", "vmap", "loop"):
        from metareg.errors import ConfigError

        raise ConfigError(f"vectorize must be auto, vmap or loop, got {setting!r}")
    if setting != "auto":
        return setting == "vmap"
    has_conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in module.modules())
    return device.type != "cpu" or not has_conv


def embed_tasks(backbone: nn.Module, batch, vectorize: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Support and query features ``[T, S, F]``, ``[T, Q, F]``, each task's inputs in one backbone call.

    One call per task keeps batch-norm statistics the task's own (transductive over support and query, as MAML's
    reference does); tasks run under ``vmap`` or a loop as ``resolve_vectorize`` decides.
    """
    s = batch.support_x.shape[1]
    x = torch.cat([batch.support_x, batch.query_x], dim=1)
    features = per_task(backbone, resolve_vectorize(vectorize, backbone, x.device), x)
    return features[:, :s], features[:, s:]


def class_means(features: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Mean feature of each class: ``features [T, S, F]``, ``labels [T, S]`` -> ``[T, n_way, F]``.

    Row c is a function of class c's support features only (a class with no support sample gets zeros); ProtoNet's
    prototypes and Versa's amortisation inputs are both this.
    """
    one_hot = F.one_hot(labels, n_way).to(features.dtype)  # [T, S, N]
    counts = one_hot.sum(1).clamp_min(1).unsqueeze(-1)  # [T, N, 1]
    return one_hot.transpose(1, 2) @ features / counts
