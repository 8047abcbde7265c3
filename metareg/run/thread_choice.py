"""``train.chunk_threads=auto``: backpropagate chunks side by side on the CPU's cores only where that measured faster.

Why the floating-point work of one task's pass decides: threads pay off when each op is long enough for its work to
outweigh Python's lock over the per-op dispatch. A second-order Conv4 MAML task (one 5-way episode) is 8.7 GFLOP a
pass at glyph-world's defaults and 16 GFLOP in the perf harness's workload, where two side by side ran 1.19x faster
on 2 cores (1.31-1.37x learn2learn); a sinusoid MLP task is 0.4 MFLOP (MAML) to 1.0 MFLOP (Reptile), almost all
dispatch, and side by side it fell from 11.9x to 0.82x learn2learn (docs/performance.md, issue 32). The two lie
four decades apart, so ``MIN_PASS_FLOP`` between them tells the regimes apart with a wide
margin on either side, and ``benchmarks.perf`` checks the rule on both workloads (docs/performance.md). The work is
counted (``torch.utils.flop_counter``), not timed: a count is the same on every machine and under any load, so the
choice never depends on what else the machine was doing, and two runs of one config choose alike.

Threads are taken only on a CPU, with at least two torch threads, a learner whose ``runs_in_threads()`` allows it
(MAML and Reptile under ``grouped``) and a meta-batch of two or more tasks; then as many as torch has threads, at
most one per task. The pass is counted inside the memory probe's ``no_trace`` (random states forked, buffers
restored, gradients dropped), so choosing leaves no trace in the run. The choice is recorded in the run's stored
config (``resolved``) and printed; like ``task_chunk`` it changes only the order of float sums and is not part of a
run's identity.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from metareg.run.memory_budget import no_trace, probe_backward
from metareg.toolkit.tasks import TaskBatch

AUTO = "auto"
#: a single-task pass (forward and backward) of at least this much work runs side by side (module doc: 8.7-16
#: GFLOP where threads won, 0.4-1.0 MFLOP where they lost; a 16-pixel, 4-channel test Conv4 is 16 MFLOP)
MIN_PASS_FLOP = 100e6


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    reason: str
    pass_flop: int | None = None

    def line(self) -> str:
        counted = "" if self.pass_flop is None else f"; one task's pass is {self.pass_flop / 1e6:,.1f} MFLOP"
        return f"threads: {self.threads} chunk(s) side by side (train.chunk_threads=auto: {self.reason}{counted})"


def choose_threads(learner, batch: TaskBatch, params: Sequence[torch.nn.Parameter],
                   device: torch.device) -> ThreadChoice:
    """``auto``'s threads for ``batch`` (the run's first meta-batch), by the rule of the module doc."""
    cores = torch.get_num_threads()
    if device.type != "cpu":
        return ThreadChoice(1, f"on {device.type}, passes run one at a time")
    if cores < 2:
        return ThreadChoice(1, "torch has one thread")
    if len(batch) < 2:
        return ThreadChoice(1, "a meta-batch of one task")
    runs = getattr(learner, "runs_in_threads", None)
    if not callable(runs) or not runs():
        return ThreadChoice(1, f"{type(learner).__name__} runs its chunks one at a time")
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with no_trace(learner, params, device), counter:
        probe_backward(learner, batch.tasks(0, 1))
    flop = int(counter.get_total_flops())
    if flop < MIN_PASS_FLOP:
        return ThreadChoice(1, f"a pass under {MIN_PASS_FLOP / 1e6:g} MFLOP is mostly dispatch", flop)
    return ThreadChoice(min(cores, len(batch)), f"a pass of {MIN_PASS_FLOP / 1e6:g} MFLOP or more", flop)
