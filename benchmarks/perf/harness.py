"""The harness proper: for each workload and learner, check every implementation's meta-gradient against the plain
per-task loop in float64, then time the ones that agree, then measure their peak memory.

Why the check comes first and gates the timing: a meta-learning implementation that is fast because it computes
something else (a dropped second-order term, a batch norm that mixes tasks) must not appear in a speed table. Why
memory comes last: the CPU method changes the allocator's behaviour, which must not touch any timing.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass, field
from typing import Callable

import torch

from benchmarks.perf import measure
from benchmarks.perf.base import LEARNERS, Case, Unsupported
from benchmarks.perf.implementations import IMPLEMENTATIONS, REFERENCE, Implementation, chunked, initial_weights
from benchmarks.perf.workloads import WORKLOADS, Workload, cast, tiny
from metareg.errors import MetaregError

#: the implementation column of a row that stands for every implementation
ALL = "(all)"
SWEEPS = {"meta-batch": (1, 2, 4, 8, 16, 32, 64), "inner-steps": (1, 2, 5, 10)}


@dataclass
class Options:
    workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    learners: list[str] = field(default_factory=lambda: list(LEARNERS))
    implementations: list[str] = field(default_factory=lambda: list(IMPLEMENTATIONS))
    steps: int = 20
    warmup: int = 3
    check_tasks: int = 4
    #: also run each selected metareg implementation with the meta-batch in chunks of these many tasks
    chunks: tuple[int, ...] = ()
    #: MiB (or ``auto``) within which ``metareg-auto`` chooses its chunk, as ``train.memory_budget``
    memory_budget: object = "auto"
    tolerance: float = 1e-6
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    tiny: bool = False
    amp: bool = False
    compile: bool = False
    meta_batch: int | None = None
    inner_steps: int | None = None
    sweep: str | None = None
    sweep_values: tuple[int, ...] | None = None
    memory: bool = True
    heap_reuse: bool = False
    command: str = ""
    #: where progress lines go (a long CPU run takes an hour); ``None``: nowhere
    log: Callable[[str], None] | None = None
    #: extra implementations by name (tests add a deliberately wrong one)
    extra: dict[str, Implementation] = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: torch sees no CUDA GPU here")
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical CPUs"


def reference_versions() -> dict[str, str]:
    from benchmarks.perf.references import load_learn2learn

    out = {}
    try:
        out["learn2learn"] = load_learn2learn()[1]
    except Unsupported as exc:
        out["learn2learn"] = f"not loaded: {exc}"
    try:
        importlib.import_module("higher")
        out["higher"] = f"higher {importlib.metadata.version('higher')}"
    except ImportError as exc:
        out["higher"] = f"not loaded: {exc}"
    return out


def workload_for(options: Options, name: str) -> Workload:
    w = WORKLOADS[name]
    if options.tiny:
        w = tiny(w)
    if options.meta_batch:
        w = w.replace(meta_batch=options.meta_batch)
    if options.inner_steps is not None:
        w = w.replace(inner_steps=options.inner_steps)
    return w


def sweep_points(options: Options, w: Workload) -> list[Workload]:
    if not options.sweep:
        return [w]
    values = options.sweep_values or SWEEPS[options.sweep]
    key = {"meta-batch": "meta_batch", "inner-steps": "inner_steps"}[options.sweep]
    return [w.replace(**{key: v}) for v in values]


def run(options: Options) -> dict:
    """Run the harness; returns ``{"environment": ..., "results": [record, ...]}`` (see ``report`` for the table).

    ``options.threads`` applies for the run only; the process's thread count is restored after it.
    """
    threads = torch.get_num_threads()
    if options.threads:
        torch.set_num_threads(options.threads)
    try:
        return _run(options)
    finally:
        torch.set_num_threads(threads)


def _run(options: Options) -> dict:
    device = resolve_device(options.device)
    extra = chunked(options.implementations, options.chunks)
    if extra:  # each chunked variant right after its strategy, and a check batch that every chunk size splits
        names = []
        for name in options.implementations:
            names += [name] + [n for n in extra if n.startswith(f"{name}/")]
        options = dataclasses.replace(options, implementations=names,
                                      check_tasks=max(options.check_tasks, max(options.chunks) + 1))
    impls = {**IMPLEMENTATIONS, **extra, **options.extra}
    for auto in ("metareg-auto", "metareg-auto-serial", "metareg-auto-threads"):
        impls[auto] = dataclasses.replace(impls[auto], build=functools.partial(impls[auto].build,
                                                                               budget=options.memory_budget))
    heap_reuse = options.heap_reuse and device.type == "cpu" and measure.reuse_heap()
    load_before = os.getloadavg()
    env = {
        "command": options.command,
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "references": reference_versions(),
        "steps": options.steps,
        "warmup": options.warmup,
        "check": f"float64 meta-gradient on the first {options.check_tasks} tasks, relative difference to "
                 f"{REFERENCE} <= {options.tolerance:g}",
        "amp": options.amp,
        "compile": options.compile,
        "heap_reuse": heap_reuse,
        "tiny": options.tiny,
        "sweep": options.sweep,
        "memory_method": measure.CUDA_METHOD if device.type == "cuda" else measure.CPU_METHOD,
    }
    records: list[dict] = []
    timed: list[tuple[dict, measure.MetaStep]] = []
    for wname in options.workloads:
        base = workload_for(options, wname)
        for learner in options.learners:
            accepted = _check(options, base, learner, impls, device, records)
            for w in sweep_points(options, base):
                built = {}
                for name, record in accepted.items():
                    row = dict(record, meta_batch=w.meta_batch, inner_steps=w.inner_steps)
                    records.append(row)
                    step = _build(options, w, learner, impls[name], device, row)
                    if step is not None:
                        built[name] = (row, step)
                _time(options, w, learner, built, timed)
    if options.memory:
        for row, step in timed:
            try:
                row["peak_memory_bytes"] = measure.peak_memory(step)
            except Exception as exc:  # noqa: BLE001 - a memory failure must not lose the timings
                row["peak_memory_bytes"], row["memory_error"] = None, _line(exc)
    timed.clear()
    if (options.memory or heap_reuse) and device.type == "cpu":
        measure.settle_allocator()
    _ratios(records)
    order = {name: i for i, name in enumerate([ALL, *options.implementations, *impls])}
    records.sort(key=lambda r: (options.workloads.index(r["workload"]), options.learners.index(r["learner"]),
                                r["meta_batch"], r["inner_steps"], order[r["implementation"]]))
    load_after = os.getloadavg()
    env["load_after"] = [round(x, 2) for x in load_after]
    threads = env["threads"]
    env["busy"] = load_before[0] > threads or load_after[0] > 2 * threads
    return {"environment": env, "results": records}


def _log(options: Options, line: str) -> None:
    if options.log is not None:
        options.log(line)


def stderr_log(line: str) -> None:
    print(f"perf: {line}", file=sys.stderr, flush=True)


def _line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def _check(options, w: Workload, learner: str, impls, device, records) -> dict[str, dict]:
    """Float64 meta-gradient of every selected implementation against the reference; returns the records of those
    that agree (to be timed), and appends skipped, failed and rejected ones to ``records`` directly."""
    accepted: dict[str, dict] = {}
    names = [n for n in options.implementations if n in impls]
    base = {"workload": w.name, "learner": learner, "meta_batch": w.meta_batch, "inner_steps": w.inner_steps}
    try:
        weights = [t.to(device=device, dtype=torch.float64) for t in initial_weights(w, learner, options.seed)]
    except Unsupported as exc:  # the learner does not apply to this workload: one row says so for all
        records.append(dict(base, implementation=ALL, status="skipped", reason=str(exc)))
        return accepted
    batch = cast(w.sample(options.seed + 1, tasks=min(options.check_tasks, w.meta_batch)), torch.float64).to(device)
    case = Case(w, learner, weights, device, torch.float64, compile=options.compile)  # check what is timed
    reference = measure.meta_gradient(impls[REFERENCE].build(case), batch)
    for name in names:
        record = dict(base, implementation=name)
        try:
            grad = reference if name == REFERENCE else measure.meta_gradient(impls[name].build(case), batch)
        except (Unsupported, MetaregError) as exc:  # e.g. a learner without that execution strategy
            records.append(dict(record, status="skipped", reason=str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - one broken implementation must not stop the others
            records.append(dict(record, status="error", reason=_line(exc)))
            continue
        record["grad_rel_diff"] = measure.relative_difference(grad, reference)
        _log(options, f"{w.name} {learner} {name}: gradient check {record['grad_rel_diff']:.1e}")
        if not record["grad_rel_diff"] <= options.tolerance:
            records.append(dict(record, status="rejected",
                                reason=f"meta-gradient differs from {REFERENCE} by {record['grad_rel_diff']:.2e} "
                                       f"(> {options.tolerance:g}); no speed is reported"))
            continue
        accepted[name] = dict(record, status="ok")
    return accepted


def _build(options, w: Workload, learner: str, impl: Implementation, device, row: dict):
    """The float32 meta-step ``impl`` times, or None (with the row saying why) when it cannot be built."""
    weights = [t.to(device) for t in initial_weights(w, learner, options.seed)]
    case = Case(w, learner, weights, device, torch.float32, compile=options.compile)
    try:
        return measure.MetaStep(impl.build(case), measure.pin(w.sample(options.seed + 2), device), device,
                                amp=options.amp)
    except Unsupported as exc:
        row.update(status="skipped", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - e.g. torch.compile failing on one implementation
        row.update(status="error", reason=_line(exc))
    return None


def _time(options, w: Workload, learner: str, built: dict, timed: list) -> None:
    """Time every built implementation of one point interleaved (``measure.time_interleaved``); an error while
    stepping falls back to timing each alone, so one broken implementation loses only its own row."""
    steps = {name: step for name, (_, step) in built.items()}
    try:
        timings = measure.time_interleaved(steps, options.steps, options.warmup)
    except Exception:  # noqa: BLE001
        timings = {}
        for name, (row, step) in built.items():
            try:
                timings.update(measure.time_interleaved({name: step}, options.steps, options.warmup))
            except Exception as exc:  # noqa: BLE001
                row.update(status="error", reason=_line(exc))
    for name, timing in timings.items():
        row, step = built[name]
        choice = getattr(step.stepper, "choice", None)
        if choice is not None:  # metareg-auto: what the memory probe chose
            row.update(chunk=choice.chunk, memory_budget_bytes=choice.budget, chunk_threads=choice.threads)
        _log(options, f"{w.name} {learner} {name} (meta-batch {w.meta_batch}, {w.inner_steps} inner steps): "
                      f"{timing.median:.4g} s per meta-step")
        row.update(seconds_per_step=timing.median, cpu_seconds_per_step=timing.cpu_median,
                   tasks_per_second=w.meta_batch / timing.median, step_seconds=[round(s, 6) for s in timing.seconds],
                   finite=timing.finite)
        timed.append((row, step))


def _ratios(records: list[dict]) -> None:
    """Speed-up of each timed row over the per-task loop and over learn2learn at the same point (>1: faster)."""
    key = lambda r: (r["workload"], r["learner"], r["meta_batch"], r["inner_steps"])  # noqa: E731
    times = {(key(r), r["implementation"]): r["seconds_per_step"] for r in records if "seconds_per_step" in r}
    for r in records:
        if "seconds_per_step" not in r:
            continue
        for ref, field_name in ((REFERENCE, "vs_loop"), ("learn2learn", "vs_learn2learn")):
            t = times.get((key(r), ref))
            r[field_name] = t / r["seconds_per_step"] if t else None

