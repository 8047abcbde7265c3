"""``python -m benchmarks.perf`` and ``metareg perf``: parse the flags, run the harness, print the table or JSON."""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Sequence

from benchmarks.perf import harness, report
from benchmarks.perf.base import LEARNERS
from benchmarks.perf.implementations import IMPLEMENTATIONS
from benchmarks.perf.workloads import WORKLOADS


def build_parser(prog: str = "python -m benchmarks.perf") -> argparse.ArgumentParser:
    impls = "\n".join(f"  {name:16} {impl.summary}" for name, impl in IMPLEMENTATIONS.items())
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Meta-training speed and memory of metareg's learners against a plain per-task PyTorch loop, "
                    "learn2learn and higher, on the same data and initial weights. A speed is reported only for an "
                    "implementation whose float64 meta-gradient matches the loop's.",
        epilog=f"implementations:\n{impls}\nworkloads:\n"
               + "\n".join(f"  {n:16} {w.description}" for n, w in WORKLOADS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workload", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--learner", nargs="+", choices=list(LEARNERS), default=list(LEARNERS),
                        help="fomaml is first-order MAML")
    parser.add_argument("--impl", nargs="+", choices=list(IMPLEMENTATIONS), default=list(IMPLEMENTATIONS),
                        metavar="IMPL", help="implementations to run (default: all; unavailable ones are skipped)")
    parser.add_argument("--steps", type=int, default=20, help="timed meta-steps; the median is reported (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed meta-steps first (default 3)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--device", default="auto", help="auto (a GPU when torch sees one), cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check-tasks", type=int, default=4,
                        help="tasks in the float64 gradient check (default 4; with --chunks at least the largest + 1)")
    parser.add_argument("--memory-budget", default="auto", metavar="MIB", type=_budget,
                        help="metareg-auto's memory budget in MiB, as train.memory_budget (default auto)")
    parser.add_argument("--chunks", type=int, nargs="+", metavar="N", default=(),
                        help="also run each selected metareg implementation with the meta-batch backpropagated N "
                             "tasks at a time (train.task_chunk), as IMPL/chunkN")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="largest relative gradient difference")
    parser.add_argument("--meta-batch", type=int, help="override the workloads' meta-batch size")
    parser.add_argument("--inner-steps", type=int, help="override the workloads' inner steps")
    parser.add_argument("--sweep", choices=list(harness.SWEEPS),
                        help="time each implementation at meta-batch 1..64 or inner steps 1..10")
    parser.add_argument("--sweep-values", type=int, nargs="+", metavar="N", help="the sweep's points instead")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast around every implementation's step")
    parser.add_argument("--compile", action="store_true", help="torch.compile metareg's meta-loss")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory step")
    parser.add_argument("--heap-reuse", action="store_true",
                        help="CPU: keep freed memory in glibc's heap for the next step (see measure.reuse_heap)")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes, for CI: checks the code paths in seconds")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of Markdown")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _budget(value: str):
    return value if value == "auto" else float(value)


def options_from(args: argparse.Namespace, command: str) -> harness.Options:
    return harness.Options(
        workloads=args.workload, learners=args.learner, implementations=args.impl, steps=args.steps,
        warmup=args.warmup, check_tasks=args.check_tasks, chunks=tuple(args.chunks), tolerance=args.tolerance,
        memory_budget=args.memory_budget,
        device=args.device, threads=args.threads, seed=args.seed, tiny=args.tiny, amp=args.amp, compile=args.compile,
        meta_batch=args.meta_batch, inner_steps=args.inner_steps, sweep=args.sweep,
        sweep_values=tuple(args.sweep_values) if args.sweep_values else None, memory=not args.no_memory,
        heap_reuse=args.heap_reuse, command=command, log=None if args.quiet else harness.stderr_log,
    )


def main(argv: Sequence[str] | None = None, prog: str = "python -m benchmarks.perf") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog).parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        raise SystemExit("--steps must be at least 1 and --warmup at least 0")
    result = harness.run(options_from(args, " ".join([prog, *map(shlex.quote, argv)])))
    print(report.as_json(result) if args.json else report.markdown(result), flush=True)
    return 0
