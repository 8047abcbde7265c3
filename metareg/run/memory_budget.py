"""How many tasks of a meta-batch to backpropagate at once (``train.task_chunk=auto``): a budget and a probe.

Why a measured probe and not a formula: a meta-step's peak memory depends on the learner, its strategy (grouped,
vmap, loop), the backbone, the inner steps, the dtype and the allocator, and a third-party learner's on things
metareg cannot know. So before the first update, chunks of 1 and of ``PROBE_TASKS`` tasks of the run's first
meta-batch are backpropagated at the initial weights and each one's peak is measured (CUDA:
``torch.cuda.max_memory_allocated`` above what was allocated before; CPU on Linux: the growth of the process's peak
resident set, ``VmHWM`` reset through ``/proc/self/clear_refs`` after ``malloc_trim``, so reused heap pages count).
A line through the two, peak(c) = base + c * per_task, predicts every chunk; ``auto`` takes the largest chunk whose
prediction times ``MARGIN`` is within the budget, then evens the chunks out (32 tasks in 3 chunks: 11, 11, 10).
The whole meta-batch in one pass, when it fits, is exactly the unchunked step.

On the CPU a pass is also kept under ``CPU_PASS_BYTES`` when the budget would allow more, because smaller passes
were measured faster there: second-order Conv4 MAML at meta-batch 32 took 2.85, 2.66 and 2.89 s per step in chunks
of 2, 4 and 8 tasks against 5.13 s for the whole batch in one pass (``python -m benchmarks.perf --chunks``,
docs/performance.md). A whole batch's tensors of hundreds of MiB overflow the cache and are mapped afresh and
page-faulted by glibc at every step; a GPU wants the large kernels, so there the budget alone decides.

The budget (``train.memory_budget``, MiB) defaults to a share of what the device has free when the run starts:
``CUDA_SHARE`` of ``torch.cuda.mem_get_info``'s free bytes, ``CPU_SHARE`` of Linux's ``MemAvailable``. Grid workers
that share a device divide it (``share_among``): ``--workers 4`` on a CPU gives each worker a quarter of that share,
and four workers on two GPUs each half of its GPU's, so workers starting together cannot add up to more than the
device has (each measured the same free memory, and took half of it, before they divided it). Where memory cannot be measured (a CPU
without ``/proc``) ``auto`` runs the whole meta-batch and says so.

The probe leaves no trace: gradients are dropped, the learner's buffers and the random number generators restored,
so a run with ``task_chunk=auto`` that keeps the whole batch gives the numbers of a run without the probe.
"""
from __future__ import annotations

import ctypes
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from metareg.errors import MetaregError
from metareg.toolkit.tasks import TaskBatch

AUTO = "auto"
CPU_SHARE, CUDA_SHARE = 0.5, 0.8
MARGIN = 1.2  # predicted peaks are inflated by this before they are compared with the budget
CPU_PASS_BYTES = 512 * (1 << 20)  # on the CPU, the predicted peak of one pass when the budget allows more
PROBE_TASKS = 4
MIB = 1 << 20


class MemoryBudgetError(MetaregError):
    """Not even one task of the meta-batch fits in the memory budget."""


#: how many processes share this one's device (``share_among``); 1 outside grid workers
_peers = 1


def share_among(processes: int) -> None:
    """Divide ``auto``'s budget among ``processes`` that share this process's device (a grid worker calls it once,
    before any run); an explicit ``train.memory_budget`` is taken as given, per process."""
    global _peers
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    _peers = processes


def budget_bytes(setting: Any, device: torch.device) -> int | None:
    """The budget in bytes: the setting in MiB, or ``auto``'s share of the device's free memory divided among the
    processes that share it (None: unknown)."""
    if setting != AUTO:
        return int(float(setting) * MIB)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * CUDA_SHARE / _peers)
    available = _meminfo("MemAvailable")
    return None if available is None else int(available * CPU_SHARE / _peers)


@dataclass(frozen=True)
class ChunkChoice:
    """What ``auto`` chose and why; ``line()`` is what the run prints and ``stored()`` what its config records."""

    chunk: int
    tasks: int
    budget: int | None = None
    base: int | None = None
    per_task: int | None = None
    reason: str = ""
    cpu_capped: bool = False  # the budget allowed more, CPU_PASS_BYTES did not
    threads: int = 1  # chunks alive at once (train.chunk_threads on a CPU)

    def line(self) -> str:
        whole = self.chunk >= self.tasks
        what = f"the whole meta-batch of {self.tasks} tasks in one pass" if whole else (
            f"chunks of {self.chunk} of the {self.tasks} tasks ({-(-self.tasks // self.chunk)} passes)")
        if self.per_task is None:
            return f"memory: {what} ({self.reason})"
        cap = f", and at most {_mib(CPU_PASS_BYTES)} per pass on the CPU (faster)" if self.cpu_capped else ""
        side = f", {self.threads} passes side by side (train.chunk_threads)" if self.threads > 1 else ""
        return (f"memory: {what}; measured {_mib(self.base)} + {_mib(self.per_task)} per task against a budget of "
                f"{_mib(self.budget)} (train.memory_budget){cap}{side}")

    def stored(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task_chunk": self.chunk}
        if self.budget is not None:
            out["memory_budget"] = round(self.budget / MIB)
        return out


def choose_chunk(learner: torch.nn.Module, batch: TaskBatch, params: Sequence[torch.nn.Parameter],
                 device: torch.device, memory_budget: Any = AUTO, threads: int = 1) -> ChunkChoice:
    """``train.task_chunk=auto``'s chunk for ``batch`` (the run's first meta-batch), from a probe (module doc).

    With ``threads`` > 1 on a CPU (``metareg.run.chunk_threads``) that many chunks are alive at once, so each gets
    that share of the budget, and a chunk is one task: side by side, one task per pass measured both the fastest
    and the smallest for second-order Conv4 MAML (docs/performance.md: 1.25x learn2learn at 1.9x its memory,
    against 1.04x at 4.3x with chunks of 4), and the first chunk runs alone, so many passes keep the threads busy.
    """
    tasks = len(batch)
    alive = threads if device.type == "cpu" and threads > 1 else 1
    if not getattr(learner, "task_separable", True):
        return ChunkChoice(tasks, tasks, reason=f"{type(learner).__name__} declares task_separable = False")
    budget = budget_bytes(memory_budget, device)
    if budget is None:
        return ChunkChoice(tasks, tasks, reason="this machine's free memory is unknown: no budget")
    probe_sizes = sorted({1, min(tasks, PROBE_TASKS)})
    with no_trace(learner, params, device):
        probe_backward(learner, batch.tasks(0, 1))  # warm-up: one-time workspaces must not count as per-task memory
        peaks = [measure_peak(lambda c=c: probe_backward(learner, batch.tasks(0, c)), device) for c in probe_sizes]
    if any(p is None for p in peaks):
        return ChunkChoice(tasks, tasks, budget, reason="peak memory cannot be measured on this machine")
    if len(peaks) == 1:
        per_task, base = peaks[0], 0
    else:
        per_task = max(0, (peaks[1] - peaks[0]) // (probe_sizes[1] - probe_sizes[0]))
        base = max(0, peaks[0] - per_task)
    fits = [c for c in range(1, tasks + 1) if MARGIN * alive * (base + c * per_task) <= budget]
    if not fits:
        raise MemoryBudgetError(
            f"one task of this meta-batch needs about {_mib(MARGIN * (base + per_task))} with the margin, over the "
            f"memory budget of {_mib(budget)}: raise train.memory_budget (MiB), or lower the image size, the inner "
            f"steps or the backbone's width")
    if alive > 1:  # side by side: one task a pass (docstring)
        return ChunkChoice(1, tasks, budget, base, per_task, threads=alive)
    fast = [c for c in fits if base + c * per_task <= CPU_PASS_BYTES] if device.type == "cpu" else fits
    chunk = max(fast or fits[:1])
    passes = -(-tasks // chunk)
    return ChunkChoice(-(-tasks // passes), tasks, budget, base, per_task, cpu_capped=chunk < max(fits))


def measure_peak(fn: Callable[[], Any], device: torch.device) -> int | None:
    """Bytes ``fn`` needs beyond what was live before it (module doc for the method); None where unmeasurable."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    libc = _libc()
    if libc is None:
        return None
    try:
        libc.malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = proc_status("VmRSS")
        fn()
        return max(0, proc_status("VmHWM") - before)
    except (OSError, AttributeError, ValueError):
        return None


def probe_backward(learner, batch: TaskBatch) -> None:
    """One meta-loss backward of ``batch``, as the probes measure it (inside ``no_trace``)."""
    learner.meta_loss(batch).loss.backward()


class no_trace:
    """Around the probe: random states forked, buffers restored, gradients dropped."""

    def __init__(self, learner: torch.nn.Module, params: Sequence[torch.nn.Parameter], device: torch.device):
        self.learner, self.params, self.device = learner, list(params), device

    def __enter__(self):
        self.buffers = {k: b.detach().clone() for k, b in self.learner.named_buffers()}
        self.rng = torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else [])
        self.rng.__enter__()
        return self

    def __exit__(self, *exc):
        self.rng.__exit__(*exc)
        with torch.no_grad():
            for k, b in self.learner.named_buffers():
                b.copy_(self.buffers[k])
        for p in self.params:
            p.grad = None
        return False


def _mib(n: float | None) -> str:
    return "?" if n is None else f"{n / MIB:,.0f} MiB"


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def proc_status(key: str) -> int:
    """A byte count of this process's ``/proc/self/status`` (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo") as f:
            match = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None
