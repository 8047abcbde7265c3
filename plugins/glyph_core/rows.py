"""The rows of each class in rendered arrays sorted by code point: one contiguous range per class."""
from __future__ import annotations

import numpy as np


def class_rows(codes: np.ndarray) -> dict[int, range]:
    """Code point -> its rows, for ``codes`` [N] sorted ascending (how both benchmarks store their renderings)."""
    bounds = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), len(codes)] if len(codes) else [0]
    return {int(codes[lo]): range(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])}
