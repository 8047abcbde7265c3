"""How much each sample of a batch counts in batch norm's statistics, for the forward passes that set it.

Why a context and not an argument: batch norm sits deep inside a backbone whose ``forward(x)`` a plugin writes, and
a support set that carries weights (``TaskBatch.support_weight``: generated samples below 1) must not let a sample
of weight 0 move the statistics every real sample is normalised by, or adding generated samples at weight 0 would
still change what a learner predicts. ``TaskBatchNorm`` reads the weights set here; a forward pass outside
``batch_norm_weights`` normalises as before, every sample counting once.

Weighted statistics rather than statistics of the real samples alone: they agree at weight 0 (a sample of weight 0
counts for nothing) and at weight 1 (today's statistics), and between the two they weigh a sample in batch norm as
the loss weighs it, so one number (``aug_weight``) says how much a generated sample counts everywhere. Measured
against real-only statistics (``benchmarks/bn_statistics.py``, docs/generator.md) at the chosen settings,
ProtoNet and MAML on glyph-world's style domains, best validation accuracy: jitter (n_aug 4, weight 0.3) +0.055
weighted against +0.050 real-only, MT-GAN (4, 0.1) +0.035 against +0.039. Both differences are within the
grid's noise (one seed, 100 episodes, ~±0.02), so nothing measured favours either, and weighted statistics stay
for the reason above.

A context variable is per thread and per task of asyncio, so chunks that run side by side in threads
(``train.chunk_threads``) each see their own; under ``torch.func.vmap`` the weights set inside the vmapped
function are that task's own.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

import torch

_WEIGHTS: contextvars.ContextVar[torch.Tensor | None] = contextvars.ContextVar("metareg_batch_norm_weights",
                                                                               default=None)


@contextlib.contextmanager
def batch_norm_weights(weights: torch.Tensor | None) -> Iterator[None]:
    """Within the block, ``TaskBatchNorm`` computes its mean and variance with ``weights [N]``, one per sample of
    the batch it normalises (``None``: every sample counts once, as outside any block)."""
    token = _WEIGHTS.set(weights)
    try:
        yield
    finally:
        _WEIGHTS.reset(token)


def current_batch_norm_weights() -> torch.Tensor | None:
    """The weights ``batch_norm_weights`` set for the forward pass running now, or ``None``."""
    return _WEIGHTS.get()


def with_query_weights(support_weight: torch.Tensor | None, queries: int) -> torch.Tensor | None:
    """``support_weight [T, S]`` followed by weight 1 for each of ``queries`` query samples ``[T, S + Q]``: the
    weights of a task's support and query samples passed through the network together (``None`` stays ``None``)."""
    if support_weight is None:
        return None
    return torch.cat([support_weight, support_weight.new_ones(support_weight.shape[0], queries)], dim=1)
