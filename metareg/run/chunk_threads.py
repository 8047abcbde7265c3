"""The chunks of a meta-batch backpropagated side by side on the CPU's cores (``train.chunk_threads``).

Why: the tasks of a Conv4 episode are small (5 support images, 75 queries), so each of their ops is too short for
PyTorch's intra-op threads to share well. On a 2-core CPU, second-order MAML's grouped chunks of one task measured
1.19x faster two at a time, each on one thread, than one at a time on both; with the channels-last max-pool it is
1.31-1.37x learn2learn at 1.6x its memory (docs/performance.md). Python's lock over the per-op dispatch bounds the
gain. The chunks are independent by construction (``metareg.run.chunking``), so each thread computes its chunk's
gradient with ``torch.autograd.grad`` and the main thread adds them in chunk order: the result does not depend on
which thread finished first. It differs from a one-thread-at-a-time run only in the order of float sums inside ops, as a
different ``task_chunk`` does.

Two things keep a run reproducible. The first chunk runs alone, in the main thread, before the adversary's loss
(the random streams are read in the serial order); if its meta-loss drew from torch's global random stream (Versa
samples its logit noise there), threads would interleave the draws, so the rest runs serially too. And at most
``threads`` chunks are alive at once, which ``task_chunk=auto`` budgets for.
"""
from __future__ import annotations

import contextlib
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Optional, Sequence

import torch

from metareg.host.contracts.learner import LearnerOutput
from metareg.toolkit.tasks import TaskBatch


def detached(out: LearnerOutput) -> LearnerOutput:
    """``out`` without its graph: what is kept of a chunk once its gradient is taken."""
    return LearnerOutput(out.loss.detach(), {k: v.detach() for k, v in out.metrics.items()},
                         None if out.task_losses is None else out.task_losses.detach())


def chunk_gradients(learner, part: TaskBatch, params: Sequence[torch.nn.Parameter],
                    share: float) -> tuple[list[torch.Tensor | None], LearnerOutput]:
    """The gradient of ``share`` × ``part``'s meta-loss w.r.t. ``params`` (``None`` where unused), and its output,
    detached."""
    out = learner.meta_loss(part)
    grads = torch.autograd.grad(out.loss * share, params, allow_unused=True)
    return list(grads), detached(out)


def threaded_chunks(learner, batch: TaskBatch, params: Sequence[torch.nn.Parameter], chunk: int, threads: int,
                    extra_loss: Callable[[], Optional[torch.Tensor]]
                    ) -> tuple[list[tuple[float, LearnerOutput]], torch.Tensor | None]:
    """Add every chunk's meta-gradient into ``params``' ``.grad``, in chunk order; each chunk's share of the tasks
    with its detached output (in order), and ``extra_loss()``'s value, called after the first chunk's meta-loss as
    the serial path does."""
    n = len(batch)
    parts = [batch.tasks(s, min(n, s + chunk)) for s in range(0, n, chunk)]

    def gradients(part: TaskBatch):
        return chunk_gradients(learner, part, params, len(part) / n)

    before = torch.get_rng_state()
    first = gradients(parts[0])
    draws = not torch.equal(before, torch.get_rng_state())
    extra = extra_loss()
    outputs = []
    with contextlib.ExitStack() as side_by_side:
        run = map  # serially, in the draw order of the serial path, when the learner draws random numbers
        if not draws and len(parts) > 1:
            side_by_side.enter_context(_one_thread_each())
            run = side_by_side.enter_context(ThreadPoolExecutor(threads, thread_name_prefix="metareg-chunk")).map
        for part, (grads, out) in zip(parts, itertools.chain([first], run(gradients, parts[1:]))):
            _accumulate(params, grads)
            outputs.append((len(part) / n, out))
    return outputs, extra


def _accumulate(params: Sequence[torch.nn.Parameter], grads: list[torch.Tensor | None]) -> None:
    for p, g in zip(params, grads):
        if g is not None:
            p.grad = g if p.grad is None else p.grad + g


@contextlib.contextmanager
def _one_thread_each() -> Iterator[None]:
    """torch's intra-op threads set to 1 while the chunk threads run (the setting is the process's), then restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
