"""The meta-batch in chunks of tasks: memory bounded by a chunk, the meta-gradient unchanged.

Why: the batched strategies hold every task's activations and inner-loop graph at once. Second-order MAML on a
28x28 Conv4 measured ~117 MiB per task grouped (3.7 GiB at meta-batch 32, 15x learn2learn's one-task-at-a-time
peak), and 84x84 inputs need about 9x that: more than a 24 GiB machine has. Here each chunk's loss is
backpropagated, weighted by its share of the tasks, before the next chunk is built, so at most one chunk's graph
is alive. The meta-loss of every built-in learner is a mean over tasks of losses that each depend on their own task
only, so the accumulated gradient is the meta-batch's gradient (float rounding aside: ``tests/run/test_chunking.py``
pins it in float64 for every built-in and every chunk size). Reptile's surrogate is not such a mean, but its
gradient, the mean over tasks of (theta - phi_t), is, so it chunks exactly too.

A learner whose meta-loss couples its tasks (a batch-level statistic, a loss over pairs of tasks) sets
``MetaLearner.task_separable = False`` and is never chunked. Versa draws its logit noise per call, so a chunked
meta-batch draws other noise than a whole one: the same gradient in distribution, not draw for draw.

Clipping composes: ``value`` and ``norm`` act on the accumulated gradient, ``task_value`` clamps each task's
gradient inside its chunk; the adversary's loss is computed once for the whole meta-batch (before the chunks, so
the random streams are read in the same order as without chunks) and backpropagated after them.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from metareg.host.contracts.learner import LearnerOutput
from metareg.run.chunk_threads import detached, threaded_chunks
from metareg.run.clipping import (add_task_clipped, backward_clipped, clip_accumulated, require_task_losses,
                              set_task_clipped, trainable)
from metareg.toolkit.tasks import TaskBatch


def meta_backward(learner, batch: TaskBatch, params: Sequence[torch.nn.Parameter], chunk: int | None = None,
                  form: str = "none", bound: float = 10.0,
                  extra_loss: Optional[Callable[[], Optional[torch.Tensor]]] = None, threads: int = 1) -> LearnerOutput:
    """Accumulate the (clipped) meta-gradient of ``batch`` (+ ``extra_loss()``) into ``params``' ``.grad``.

    ``chunk`` tasks at a time (``None``, or at least the batch: all at once, exactly the engine's unchunked step).
    ``extra_loss`` (the adversary's) is called once, after the first chunk's meta-loss, and its gradient added
    unclipped by ``task_value``. Returns the learner's output with ``loss``, ``metrics`` and ``task_losses``
    detached: each a task-weighted mean over the chunks, as the unchunked output would have given. ``threads`` > 1
    runs the chunks side by side on a CPU (``metareg.run.chunk_threads``) for a learner whose ``runs_in_threads()``
    says it may; not with ``task_value`` clipping, which clamps each task's gradient in its chunk's own backward
    passes.
    """
    n_tasks = len(batch)
    extra_loss = extra_loss or (lambda: None)
    if chunk is None or chunk >= n_tasks or not getattr(learner, "task_separable", True):
        out = learner.meta_loss(batch)
        backward_clipped(params, out.loss, form, bound, out.task_losses, extra_loss())
        return detached(out)
    params = trainable(params)
    if threads > 1 and form != "task_value" and batch.support_x.device.type == "cpu" and learner.runs_in_threads():
        outputs, extra = threaded_chunks(learner, batch, params, chunk, threads, extra_loss)
        if extra is not None:
            extra.backward()
        clip_accumulated(params, form, bound)
        return _pooled(outputs)
    total = [torch.zeros_like(p) for p in params] if form == "task_value" else None
    outputs, extra = [], None
    for start in range(0, n_tasks, chunk):
        part = batch.tasks(start, min(n_tasks, start + chunk))
        out = learner.meta_loss(part)
        if start == 0:
            extra = extra_loss()
        share = len(part) / n_tasks
        if total is not None:
            add_task_clipped(total, params, require_task_losses(out.task_losses), bound)
        else:
            (out.loss * share).backward()
        outputs.append((share, detached(out)))  # the chunk's graph goes with ``out``
        del out
    if total is not None:
        set_task_clipped(params, total, n_tasks, extra)
    else:
        if extra is not None:
            extra.backward()
        clip_accumulated(params, form, bound)
    return _pooled(outputs)


def _pooled(outputs: list[tuple[float, LearnerOutput]]) -> LearnerOutput:
    """The chunks' detached ``(share, output)`` as one output: loss and metrics weighted by each chunk's share of
    the tasks, as the unchunked output would have given; per-task losses when every chunk reported them."""
    loss, metrics, task_losses = None, {}, []
    for share, out in outputs:
        loss = _add(loss, out.loss * share)
        for k, v in out.metrics.items():
            metrics[k] = _add(metrics.get(k), v.float() * share)
        if out.task_losses is not None:
            task_losses.append(out.task_losses)
    return LearnerOutput(loss, metrics, torch.cat(task_losses) if len(task_losses) == len(outputs) else None)


def _add(acc: torch.Tensor | None, value: torch.Tensor) -> torch.Tensor:
    return value if acc is None else acc + value
