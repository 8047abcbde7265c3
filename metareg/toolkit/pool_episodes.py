"""Unlabelled target inputs drawn in the shape of an episode, for an adversary's target features.

Why: batch norm normalises a test episode with its own statistics, those of ``n_way`` classes with ``k_shot +
n_query`` samples each. Target features taken from one random draw of a many-class pool are normalised with
statistics no prediction is ever made with, so an adversary would align features of a regime that never occurs
at test time. A benchmark whose pool knows which of its inputs show one class (the labels are used to group the
draw, never handed to anyone) draws each target batch as an episode of that many classes would be drawn.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch


def pool_episodes(rows_by_class: Mapping[object, Sequence[int]], n: int, size: int, n_way: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Row indices ``[n, size]`` into a benchmark's images: each row ``n_way`` pool classes (a seeded choice
    without replacement; all of them where the pool has fewer), whose ``size`` samples are split among the classes
    as evenly as ``size`` allows (the first ``size % n_way`` chosen classes one more). A class's samples are drawn
    without replacement where it holds enough, with replacement where it does not (a pool class may have fewer
    samples than an episode asks of a class).

    Example: ``pool_episodes({7: [0, 1, 2], 9: [3, 4]}, n=2, size=4, n_way=2, generator=g)`` gives two rows of
    two samples of class 7 and two of class 9, in random order within each class's share.
    """
    classes = [c for c in sorted(rows_by_class, key=repr) if len(rows_by_class[c])]
    if not classes:
        raise ValueError("pool_episodes: the pool has no class with a sample")
    if n < 0 or size < 1 or n_way < 1:
        raise ValueError(f"pool_episodes: need n >= 0, size >= 1 and n_way >= 1, got n={n}, size={size}, "
                         f"n_way={n_way}")
    ways = min(n_way, len(classes))
    out = torch.empty(n, size, dtype=torch.long)
    for e in range(n):
        chosen = torch.randperm(len(classes), generator=generator)[:ways].tolist()
        filled = 0
        for i, c in enumerate(chosen):
            share = size // ways + (1 if i < size % ways else 0)
            rows = torch.as_tensor(list(rows_by_class[classes[c]]), dtype=torch.long)
            if len(rows) >= share:
                pick = torch.randperm(len(rows), generator=generator)[:share]
            else:
                pick = torch.randint(len(rows), (share,), generator=generator)
            out[e, filled:filled + share] = rows[pick]
            filled += share
    return out
