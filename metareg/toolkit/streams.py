"""One seeded random stream per split, kept across calls and saved in a mid-run checkpoint.

Why: a generator that augments every batch draws new random numbers each time (noise, warps), and a run that
resumes mid-way must draw exactly what the uninterrupted run would have. The engine saves a generator's
``get_rng_state()`` in its checkpoint and hands it back through ``set_rng_state`` (``metareg.run.engine``); a
generator that keeps its streams here gets both, and its splits never share or shift each other's numbers.
"""
from __future__ import annotations

import torch

from metareg.toolkit.tasks import torch_generator


class SplitStreams:
    """``streams[split]``: a ``torch.Generator`` seeded from ``(seed, *names, split)`` on first use, then kept."""

    def __init__(self, seed: int = 0, *names: object):
        self.reset(seed, *names)

    def reset(self, seed: int, *names: object) -> None:
        """Forget every stream; the next draw of each split starts again from ``(seed, *names, split)``."""
        self.seed, self.names = seed, names
        self._streams: dict[str, torch.Generator] = {}

    def __getitem__(self, split: str) -> torch.Generator:
        if split not in self._streams:
            self._streams[split] = torch_generator(self.seed, *self.names, split)
        return self._streams[split]

    def get_state(self) -> dict[str, torch.Tensor]:
        """Each used stream's state, by split: what a generator's ``get_rng_state`` returns."""
        return {split: rng.get_state() for split, rng in self._streams.items()}

    def set_state(self, state: dict[str, torch.Tensor]) -> None:
        """The streams as ``get_state`` saved them (a split not in ``state`` starts afresh)."""
        self._streams = {}
        for split, saved in state.items():
            rng = torch.Generator()
            rng.set_state(saved.cpu())
            self._streams[split] = rng
