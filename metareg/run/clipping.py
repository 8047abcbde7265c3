"""Outer-gradient clipping, in the forms the reference implementations use, as the engine's job.

Why in the engine: a learner returns a loss and the engine takes the backward pass and the optimiser step, so
clipping the averaged gradient can only happen there; and clipping *each task's* meta-gradient before averaging
(CAVIA's regression reference, ``regression/cavia.py``) needs each task's loss, which a learner reports as
``LearnerOutput.task_losses``. The forms (``train.grad_clip``):

- ``none``: no clipping.
- ``value``: every element of the averaged gradient clamped to ``[-grad_clip_max, grad_clip_max]`` (CAVIA's
  classification reference, ``classification/main.py``: ``param.grad.data.clamp_(-10, 10)``).
- ``norm``: the global L2 norm of the gradient scaled down to at most ``grad_clip_max``
  (``torch.nn.utils.clip_grad_norm_``).
- ``task_value``: each task's meta-gradient clamped elementwise, then averaged over the tasks; the adversary's
  gradient (not a per-task quantity) is added after, unclipped.

``task_value`` takes every task's gradient in one batched backward pass (``torch.autograd.grad`` with
``is_grads_batched=True``: the vector-Jacobian product vmapped over the rows of an identity), not one pass per task
as the reference does. The gradients are the per-task loop's (``tests/run/test_grad_clipping.py`` pins it in
float64 for CAVIA on both backbones); on CAVIA's sinusoid meta-batch of 25 it measured 9.5 ms a step against 15.5 ms
for the loop (``benchmarks/task_clip.py``). A graph with an operation that has no batching rule for its backward
falls back to the loop, with a warning that says so.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import torch

from metareg.errors import ConfigError

FORMS = ("none", "value", "norm", "task_value")


def backward_clipped(params: Sequence[torch.nn.Parameter], loss: torch.Tensor, form: str, bound: float,
                     task_losses: torch.Tensor | None = None, extra_loss: torch.Tensor | None = None) -> None:
    """Set ``p.grad`` of ``params`` to the gradient of ``loss`` (+ ``extra_loss``), clipped as ``form`` says.

    ``loss`` is the learner's meta-loss, the mean of ``task_losses`` when those are given; ``extra_loss`` is what
    is added to it (the adversary's loss). ``task_value`` needs ``task_losses``: each task's gradient is one
    backward pass of its loss through the shared graph. ``metareg.run.chunking`` does the same chunk by chunk.
    """
    params = trainable(params)
    if form == "task_value":
        total = [torch.zeros_like(p) for p in params]
        add_task_clipped(total, params, require_task_losses(task_losses), bound)
        set_task_clipped(params, total, task_losses.shape[0], extra_loss)
        return
    (loss if extra_loss is None else loss + extra_loss).backward()
    clip_accumulated(params, form, bound)


def trainable(params: Sequence[torch.nn.Parameter]) -> list[torch.nn.Parameter]:
    return [p for p in params if p.requires_grad]


def require_task_losses(task_losses: torch.Tensor | None) -> torch.Tensor:
    if task_losses is None:
        raise ConfigError("train.grad_clip=task_value clips each task's meta-gradient, but this learner does "
                          "not report per-task losses (LearnerOutput.task_losses); use value or norm")
    return task_losses


def add_task_clipped(total: list[torch.Tensor], params: Sequence[torch.Tensor], task_losses: torch.Tensor,
                     bound: float) -> None:
    """Add each task's meta-gradient, clamped elementwise to ``[-bound, bound]``, to ``total``: one batched
    backward pass over the tasks, or one pass per task where the graph cannot be batched."""
    try:
        grads = task_gradients(task_losses, params)
    except RuntimeError as error:  # an operation without a batching rule for its backward
        warnings.warn(f"train.grad_clip=task_value: the per-task gradients could not be batched ({error}); "
                      f"taking them one task at a time, which is slower but the same", RuntimeWarning, stacklevel=2)
        add_task_clipped_looped(total, params, task_losses, bound)
        return
    for acc, g in zip(total, grads):
        if g is not None:
            acc.add_(g.clamp_(-bound, bound).sum(0))


def task_gradients(task_losses: torch.Tensor, params: Sequence[torch.Tensor]) -> tuple:
    """Every task's gradient of its own loss, stacked: ``[n_tasks, *p.shape]`` per parameter (None where unused)."""
    n = task_losses.shape[0]
    rows = torch.eye(n, dtype=task_losses.dtype, device=task_losses.device)
    return torch.autograd.grad(task_losses, params, grad_outputs=rows, retain_graph=True, allow_unused=True,
                               is_grads_batched=True)


def add_task_clipped_looped(total: list[torch.Tensor], params: Sequence[torch.Tensor], task_losses: torch.Tensor,
                            bound: float) -> None:
    """``add_task_clipped`` one backward pass per task, as the reference computes it."""
    for i in range(task_losses.shape[0]):
        grads = torch.autograd.grad(task_losses[i], params, retain_graph=True, allow_unused=True)
        for acc, g in zip(total, grads):
            if g is not None:
                acc.add_(g.clamp(-bound, bound))


def set_task_clipped(params: Sequence[torch.nn.Parameter], total: list[torch.Tensor], n_tasks: int,
                     extra_loss: torch.Tensor | None) -> None:
    """``p.grad`` = the mean of the clamped task gradients in ``total``, plus ``extra_loss``'s gradient unclipped."""
    if extra_loss is not None:
        grads = torch.autograd.grad(extra_loss, params, allow_unused=True)
        total = [acc.div_(n_tasks) if g is None else acc.div_(n_tasks).add_(g) for acc, g in zip(total, grads)]
    else:
        total = [acc.div_(n_tasks) for acc in total]
    for p, g in zip(params, total):
        p.grad = g


def clip_accumulated(params: Sequence[torch.nn.Parameter], form: str, bound: float) -> None:
    """Clip the gradients already in ``p.grad`` (the forms that act on the averaged gradient)."""
    if form == "value":
        torch.nn.utils.clip_grad_value_(params, bound)
    elif form == "norm":
        torch.nn.utils.clip_grad_norm_(params, bound)
