"""Where a run's wall time goes: setup, meta-training, validation and testing, measured as the engine runs them.

Why: meta-testing (600 episodes of 10 adaptation steps each) and validation are about half of a default
classification run, and a speed-up of the meta-step alone cannot show in its wall time; ``metareg runs show``
gives the split so a user sees which phase to make faster (or to run less often: ``train.val_every``,
``train.val_tasks``). ``train`` is the rest of the run: what is not setup (the generator's fit), validation or test.
A run resumed from a checkpoint times the part it ran in this process, as its ``wall_time`` does.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

#: the phases, in the order a run passes through them
PHASES = ("setup", "train", "val", "test")


class PhaseClock:
    """Accumulates wall seconds per phase; ``split(total)`` gives every phase, ``train`` as the remainder."""

    def __init__(self):
        self.seconds = {name: 0.0 for name in PHASES if name != "train"}

    @contextmanager
    def phase(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def split(self, total: float) -> dict[str, float]:
        timed = sum(self.seconds.values())
        out = {**self.seconds, "train": max(0.0, total - timed)}
        return {name: round(out[name], 3) for name in PHASES}


def describe(phases: dict | None, total: float | None) -> str | None:
    """``train 40.1 s (64%), val 12.3 s (20%), test 9.8 s (16%)``: the split as ``runs show`` prints it (setup only
    where it took time); None for a run stored before the split was recorded."""
    if not phases:
        return None
    total = total or sum(phases.values()) or 1.0
    shown = [name for name in PHASES if name in phases and (name != "setup" or phases[name] >= 0.05)]
    return ", ".join(f"{name} {phases[name]:.1f} s ({100 * phases[name] / total:.0f}%)" for name in shown)
