"""Gradient agreement, step time and peak memory of one built implementation.

Why this way:
- the meta-step timed is the whole of one outer update, as the engine runs it: copy the episodes to the device
  (pinned host memory, non-blocking), zero the gradients, the implementation's ``backward``, an Adam step;
- losses are summed on the device and read once at the end, so the loop adds no host-device synchronisation; on a
  GPU each step is bracketed by CUDA events, read after one final synchronise;
- the median of the timed steps, after warm-up steps that absorb allocation, autotuning and compilation;
- implementations interleaved step by step (``time_interleaved``), so a ratio compares steps run side by side.
"""
from __future__ import annotations

import contextlib
import ctypes
import statistics
import sys
import time
from dataclasses import dataclass

import torch

from benchmarks.perf.base import Stepper
from metareg.run import memory_budget
from metareg.toolkit.tasks import TaskBatch


def meta_gradient(stepper: Stepper, batch: TaskBatch) -> torch.Tensor:
    """The flat meta-gradient ``stepper`` computes on ``batch`` (a parameter it leaves untouched counts as zero)."""
    for p in stepper.params:
        p.grad = None
    stepper.backward(batch)
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in stepper.params])


def relative_difference(got: torch.Tensor, reference: torch.Tensor) -> float:
    return ((got - reference).norm() / reference.norm().clamp_min(torch.finfo(reference.dtype).tiny)).item()


def pin(batch: TaskBatch, device: torch.device) -> TaskBatch:
    """Host episodes in page-locked memory when they go to a GPU, so the copy is asynchronous."""
    if device.type != "cuda":
        return batch
    return TaskBatch(*(t.pin_memory() for t in (batch.support_x, batch.support_y, batch.query_x, batch.query_y)))


class MetaStep:
    """One outer update of ``stepper`` on ``host_batch``, as the engine does it; ``amp``: bf16 autocast."""

    def __init__(self, stepper: Stepper, host_batch: TaskBatch, device: torch.device, amp: bool = False):
        self.stepper, self.host_batch, self.device = stepper, host_batch, device
        self.optimiser = torch.optim.Adam(stepper.params, lr=1e-3)
        self.autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if amp else contextlib.nullcontext

    def __call__(self) -> torch.Tensor:
        batch = self.host_batch.to(self.device, non_blocking=True)
        for p in self.stepper.params:
            p.grad = None
        with self.autocast():
            loss = self.stepper.backward(batch)
        self.optimiser.step()
        return loss


@dataclass
class Timing:
    seconds: list[float]  # wall seconds of each timed step
    cpu_seconds: list[float]  # process CPU seconds of each step (all threads); empty on a GPU
    finite: bool  # every loss was finite

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else None


def time_interleaved(steps: dict[str, MetaStep], n_steps: int, warmup: int) -> dict[str, Timing]:
    """The wall (and CPU) seconds of ``n_steps`` steps of each implementation, round by round: one step of each in
    turn, the order rotating each round, so a change in the machine's load (another process, thermal state) falls
    on all of them alike rather than on whichever ran during it. Warm-up steps of every implementation come first."""
    names = list(steps)
    totals = {n: torch.zeros((), device=steps[n].device) for n in names}
    for n in names:
        for _ in range(warmup):
            totals[n] += steps[n]().float()
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    events: dict[str, list] = {n: [] for n in names}
    for i in range(n_steps):
        for n in names[i % len(names):] + names[:i % len(names)]:
            step = steps[n]
            if step.device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                totals[n] += step().float()
                end.record()
                events[n].append((start, end))
            else:
                w0, c0 = time.perf_counter(), time.process_time()
                totals[n] += step().float()
                wall[n].append(time.perf_counter() - w0)
                cpu[n].append(time.process_time() - c0)
    for n in names:
        if events[n]:
            torch.cuda.synchronize(steps[n].device)
            wall[n] = [a.elapsed_time(b) / 1000 for a, b in events[n]]
    return {n: Timing(wall[n], cpu[n], bool(torch.isfinite(totals[n]).item())) for n in names}


# --- the C allocator and memory -----------------------------------------------------------------------------------
CUDA_METHOD = "torch.cuda.max_memory_allocated during one meta-step, above what was allocated before it"
CPU_METHOD = ("growth of the process's peak resident set (Linux VmHWM, reset through /proc/self/clear_refs) during "
              "one meta-step, after malloc_trim and with glibc told to mmap every allocation over 128 KiB, so memory "
              "freed earlier is not counted as free; counts every allocation, torch's and Python's")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def reuse_heap() -> bool:
    """Tell glibc to serve large allocations from its heap and keep freed memory there (``mallopt``), so a meta-step
    reuses the pages of the one before instead of mapping fresh ones and faulting them in.

    Why: by default glibc maps every allocation over 32 MiB afresh and returns it to the kernel on free; a batched
    meta-step (all tasks' activations in one tensor) then pays ~1M page faults per Conv4 step at meta-batch 32,
    which was measured to cost it ~35% on the CPU, while a per-task loop's small tensors are reused from the heap.
    The same as ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967295``
    or ``LD_PRELOAD`` of jemalloc/tcmalloc for any process. Returns False where it cannot (not glibc).
    """
    libc = _libc()
    return bool(libc and libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def settle_allocator() -> None:
    """Leave glibc as its default dynamic thresholds settle after large frees (mmap over 32 MiB, trim over 64 MiB),
    after ``reuse_heap`` or a memory measurement changed them, so later work in the process (tests) is not slowed
    by an mmap per 128 KiB allocation. The exact default cannot be restored: setting a threshold disables its
    dynamic adjustment."""
    global _MEASURING
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
    _MEASURING = False


_MEASURING = False


def _prepare_cpu_memory() -> bool:
    """Switch the allocator to measuring mode (small mmap threshold); only after every timing is done."""
    global _MEASURING
    libc = _libc()
    if libc is None:
        return False
    if not _MEASURING:
        libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
        _MEASURING = True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        memory_budget.proc_status("VmHWM")
    except (OSError, AttributeError):
        return False
    return True


def peak_memory(step: MetaStep) -> int | None:
    """Bytes of memory one meta-step needs beyond what was live before it (method: ``CUDA_METHOD``/``CPU_METHOD``):
    the measurement ``train.task_chunk=auto``'s probe makes (``metareg.run.memory_budget.measure_peak``), on the CPU
    after the allocator is switched to measuring mode."""
    if step.device.type != "cuda" and not _prepare_cpu_memory():
        return None
    return memory_budget.measure_peak(step, step.device)
