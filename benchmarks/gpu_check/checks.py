"""The checks a GPU machine runs, each a function of the run's ``Context`` returning an ``Outcome``.

Each check is small and self-contained, catches its own failure (a failed check must not stop the others), and
reports numbers, not just pass/fail. Subprocess checks run the installed ``metareg`` command, as a user would.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from benchmarks.gpu_check.report import Outcome

#: the small engine runs compared between the CPU and the GPU: (label, selectors, settings)
PARITY_RUNS = (
    ("maml on sinusoid", {"learner": "maml", "benchmark": "sinusoid"},
     ["train.meta_iterations=300", "train.val_every=0", "train.test_tasks=300"]),
    ("protonet on digits-shift", {"learner": "protonet", "benchmark": "digits-shift"},
     ["benchmark.digits-shift.image_size=16", "backbone.conv4.channels=32", "train.meta_iterations=100",
      "train.val_every=0", "train.test_tasks=300"]),
)
#: the small grid run on --device cuda (and the worker check's, with --workers 2)
GRID = ["--learner", "protonet,maml", "--adversary", "none,dann", "--benchmark", "digits-shift",
        "benchmark.digits-shift.image_size=16", "backbone.conv4.channels=32", "train.meta_iterations=100",
        "train.val_every=0", "train.test_tasks=200"]


@dataclass
class Context:
    device: str
    deadline: float  # time.monotonic() by which every check must have ended
    workdir: Path
    steps: int = 20

    def left(self) -> float:
        return self.deadline - time.monotonic()


def guarded(name: str, check: Callable[[Context], Outcome], ctx: Context, needs: float) -> Outcome:
    """Run ``check`` unless fewer than ``needs`` seconds are left; an exception becomes an ``error`` outcome."""
    if ctx.left() < needs:
        return Outcome(name, "skipped", f"not started: {ctx.left():.0f} s left of the budget, it needs ~{needs:.0f}")
    start = time.monotonic()
    try:
        outcome = check(ctx)
    except Exception as exc:  # noqa: BLE001 - one failed check must not stop the others
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        outcome = Outcome(name, "error", f"{type(exc).__name__}: {str(exc)[:200]}", f"```\n{tail}\n```")
    outcome.name, outcome.seconds = name, time.monotonic() - start
    return outcome


def engine_parity(ctx: Context) -> Outcome:
    """The same runs on the CPU and on the GPU give the same test metric within the two 95% intervals (not bit
    for bit: GPU kernels sum in another order, and training amplifies the difference)."""
    from metareg.run.config import parse_overrides, resolve
    from metareg.run.engine import Run
    from metareg.host.registry import Registry

    registry = Registry.load(warn=False)
    rows, ok = ["| run | cpu | cuda | |Δ| | allowed |", "|---|---|---|---|---|"], True
    for label, selectors, settings in PARITY_RUNS:
        results = {}
        for device in ("cpu", ctx.device):
            cfg, selection = resolve(registry, parse_overrides(settings), {**selectors, "device": device})
            result = Run(cfg, selection, registry).execute(progress=False)
            if result.status != "done":
                raise RuntimeError(f"{label} on {device} failed: {result.error}")
            results[device] = next(iter(result.metrics.values()))
        a, b = results["cpu"], results[ctx.device]
        delta, allowed = abs(a["mean"] - b["mean"]), a["ci95"] + b["ci95"]
        ok &= delta <= allowed
        rows.append(f"| {label} | {a['mean']:.4f} ± {a['ci95']:.4f} | {b['mean']:.4f} ± {b['ci95']:.4f} | "
                    f"{delta:.4f} | {allowed:.4f} |")
    return Outcome("engine parity", "passed" if ok else "failed",
                   "cuda metrics within the 95% intervals of the cpu's" if ok else "a cuda metric is off",
                   "\n".join(rows))


def pinned_transfer(ctx: Context) -> Outcome:
    """``metareg.toolkit.transfer.to_device`` copies episodes without waiting for the GPU's queued work: measured as
    the host time of the copy call while a long kernel runs, against a plain pageable ``.to(device)``."""
    import torch

    from metareg.toolkit.transfer import to_device

    device = torch.device(ctx.device)
    x = torch.randn(32, 80, 1, 28, 28)
    big = torch.randn(8192, 8192, device=device)
    timings = {}
    for name, copy in (("pageable .to(device)", lambda: x.to(device)), ("metareg to_device (pinned)",
                                                                       lambda: to_device(x, device))):
        torch.cuda.synchronize()
        for _ in range(3):
            big = big @ big / big.norm()  # queue ~100 ms of work
        start = time.perf_counter()
        out = copy()
        timings[name] = time.perf_counter() - start
        torch.cuda.synchronize()
        assert torch.equal(out.cpu(), x)
    ok = timings["metareg to_device (pinned)"] < timings["pageable .to(device)"] / 2
    body = "| copy | host seconds while the GPU is busy |\n|---|---|\n" + "\n".join(
        f"| {k} | {v:.5f} |" for k, v in timings.items())
    return Outcome("pinned transfers", "passed" if ok else "failed",
                   "the pinned copy did not wait for queued work" if ok else "the pinned copy waited", body)


def bf16_autocast(ctx: Context) -> Outcome:
    """The perf harness's meta-step under bf16 autocast on the GPU: finite losses and its speed against float32."""
    return _harness(ctx, "bf16 autocast", amp=True, steps=min(ctx.steps, 10))


def perf_harness(ctx: Context) -> Outcome:
    """``python -m benchmarks.perf`` on the GPU: sinusoid and Conv4 MAML, every implementation that is installed."""
    return _harness(ctx, "perf harness", amp=False, steps=ctx.steps)


def _harness(ctx: Context, name: str, amp: bool, steps: int) -> Outcome:
    from benchmarks.perf import harness, report

    result = harness.run(harness.Options(device=ctx.device, amp=amp, steps=steps, warmup=3, learners=["maml"],
                                         command=f"python -m benchmarks.gpu_check ({name})"))
    timed = [r for r in result["results"] if r.get("seconds_per_step")]
    bad = [r for r in timed if not r.get("finite", True)]
    status = "passed" if timed and not bad else "failed"
    return Outcome(name, status, f"{len(timed)} implementation rows timed, {len(bad)} with non-finite losses",
                   report.markdown(result))


def gpu_busy(ctx: Context) -> Outcome:
    """The GPU's busy fraction during metareg's Conv4 MAML meta-step (meta-batch 32): CUDA kernel time from
    torch.profiler over wall time, over ``steps`` steps. The target is >= 80%."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from benchmarks.perf import measure
    from benchmarks.perf.base import Case
    from benchmarks.perf.implementations import IMPLEMENTATIONS, initial_weights
    from benchmarks.perf.workloads import WORKLOADS

    device = torch.device(ctx.device)
    w = WORKLOADS["conv4"]
    rows, fractions = ["| implementation | wall s / step | kernel s / step | busy |", "|---|---|---|---|"], {}
    for name in ("metareg-vmap", "metareg-grouped", "torch-loop"):
        case = Case(w, "maml", [t.to(device) for t in initial_weights(w, "maml", 0)], device, torch.float32)
        step = measure.MetaStep(IMPLEMENTATIONS[name].build(case), measure.pin(w.sample(2), device), device)
        for _ in range(3):
            step()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            start = time.perf_counter()
            for _ in range(ctx.steps):
                step()
            torch.cuda.synchronize()
            wall = time.perf_counter() - start
        kernel = sum(e.self_device_time_total for e in prof.key_averages()) / 1e6
        fractions[name] = kernel / wall
        rows.append(f"| {name} | {wall / ctx.steps:.5f} | {kernel / ctx.steps:.5f} | {kernel / wall:.0%} |")
    best = max(fractions.values())
    return Outcome("gpu busy fraction", "passed" if best >= 0.8 else "failed",
                   f"best {best:.0%} of wall time in kernels (target 80%)", "\n".join(rows))


def workers_one_gpu(ctx: Context) -> Outcome:
    """``metareg bench --workers 2 --device cuda`` with one GPU: both worker processes share it, every run done."""
    return _grid(ctx, "workers with one gpu", ["--workers", "2"])


def small_grid(ctx: Context) -> Outcome:
    """A small grid on ``--device cuda`` and its leaderboard."""
    return _grid(ctx, "grid on cuda", [])


def _grid(ctx: Context, name: str, extra: list[str]) -> Outcome:
    store = Path(tempfile.mkdtemp(prefix="store-", dir=ctx.workdir))
    bench = [sys.executable, "-m", "metareg", "bench", "--device", ctx.device, "--store", str(store), "--json",
             "--quiet", *extra, *GRID]
    done = subprocess.run(bench, capture_output=True, text=True, timeout=max(30.0, ctx.left() - 5))
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    ok = done.returncode == 0 and results and all(r["status"] == "done" and r["device"].startswith("cuda")
                                                  for r in results)
    board = subprocess.run([sys.executable, "-m", "metareg", "leaderboard", "--store", str(store)],
                           capture_output=True, text=True, timeout=120)
    body = board.stdout if board.returncode == 0 else f"```\n{done.stderr[-2000:]}\n{board.stderr[-1000:]}\n```"
    summary = f"{len(results)} runs, exit {done.returncode}, devices {sorted({r['device'] for r in results})}"
    return Outcome(name, "passed" if ok else "failed", summary, body)


#: (name, check, seconds it needs at least) in the order they run: the cheap correctness checks first
CHECKS: tuple[tuple[str, Callable[[Context], Outcome], float], ...] = (
    ("engine parity", engine_parity, 60),
    ("pinned transfers", pinned_transfer, 10),
    ("bf16 autocast", bf16_autocast, 60),
    ("workers with one gpu", workers_one_gpu, 60),
    ("gpu busy fraction", gpu_busy, 30),
    ("perf harness", perf_harness, 90),
    ("grid on cuda", small_grid, 60),
)
