"""Homoglyphs: characters of different alphabets that draw the same (Latin 'A', Greek 'Α', Cyrillic 'А').

A homoglyph on both sides of a split would put one image in a training and a test class, so the later one is
dropped; glyphs judges its alphabets and glyph-world its scripts with this one test.
"""
from __future__ import annotations

import numpy as np
import torch


def duplicates(data: dict, order: list[int], tolerance: float = 0.05) -> dict[int, int]:
    """Characters that look like an earlier one of ``order`` (code -> the code it duplicates).

    Two characters are duplicates when, in at least half of the fonts that draw both, their unjittered renders differ
    by less than ``tolerance``: sum |a - b| / (sum a + sum b), 0 for the same image and 1 for disjoint ink. Latin 'A',
    Greek 'Α' and Cyrillic 'А' are one shape in most fonts, so a target class that duplicates a source class would
    not be a class "never seen in training".
    """
    base = data["instance"] == 0
    codes, fonts = data["code"][base], data["font"][base]
    images = torch.from_numpy(data["images"][base].reshape(int(base.sum()), -1)).float() / 255
    position = {c: i for i, c in enumerate(order)}
    n = len(order)
    same, shared = np.zeros((n, n)), np.zeros((n, n))
    for f in np.unique(fonts):
        rows = np.flatnonzero((fonts == f) & np.isin(codes, order))
        if len(rows) < 2:
            continue
        idx = np.array([position[int(c)] for c in codes[rows]])
        x = images[rows]
        ink = x.sum(1)
        d = (torch.cdist(x, x, p=1) / (ink[:, None] + ink[None, :]).clamp_min(1e-6)).numpy()
        shared[np.ix_(idx, idx)] += 1
        same[np.ix_(idx, idx)] += d < tolerance
    dup = (same >= 0.5 * shared) & (shared > 0)
    out: dict[int, int] = {}
    for i in range(n):
        earlier = np.flatnonzero(dup[i, :i])
        earlier = [j for j in earlier if order[j] not in out]
        if earlier:
            out[order[i]] = order[earlier[0]]
    return out
