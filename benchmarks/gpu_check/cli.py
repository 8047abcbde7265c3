"""Parse the flags, run the checks within the time budget, write the report."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from benchmarks.gpu_check.checks import CHECKS, Context, guarded
from benchmarks.gpu_check.report import Outcome, Report, environment


def first_sentence(doc: str | None) -> str:
    """A docstring's first sentence on one line."""
    text = " ".join((doc or "").split())
    return text.split(". ")[0].rstrip(".") + "."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu_check",
        description="Everything that needs a GPU, in one call within a time budget, written as one Markdown report: "
                    "the engine on cuda against the cpu, pinned transfers, bf16 autocast, worker processes sharing "
                    "one GPU, the GPU's busy fraction during a Conv4 MAML meta-step, the perf harness, a small "
                    "grid and its leaderboard. Installs nothing and needs no network.",
        epilog="checks, in order:\n" + "\n".join(f"  {name:22} {first_sentence(check.__doc__)}"
                                                 for name, check, _ in CHECKS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="gpu-check.md", help="the report's path (default gpu-check.md)")
    parser.add_argument("--budget", type=float, default=480, metavar="SECONDS",
                        help="stop starting checks when they would run past this (default 480)")
    parser.add_argument("--device", default="cuda", help="the GPU to check (default cuda)")
    parser.add_argument("--steps", type=int, default=20, help="timed meta-steps per measurement (default 20)")
    parser.add_argument("--only", nargs="+", choices=[name for name, _, _ in CHECKS], metavar="CHECK",
                        help="run only these checks")
    parser.add_argument("--dry-run", action="store_true",
                        help="run no check: write the report listing what would run (works without a GPU)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.budget <= 0 or args.steps < 1:
        raise SystemExit("--budget must be > 0 and --steps at least 1")
    report = Report(Path(args.out), environment())
    chosen = [c for c in CHECKS if not args.only or c[0] in args.only]
    if args.dry_run:
        for name, check, needs in chosen:
            report.add(Outcome(name, "skipped", f"dry run (needs ~{needs:.0f} s): {first_sentence(check.__doc__)}"))
        print(report.path)
        return 0
    import torch

    if not torch.cuda.is_available():
        report.add(Outcome("cuda", "failed", "torch sees no CUDA GPU here: run this on a GPU machine, or --dry-run"))
        print(f"{report.path}: torch sees no CUDA GPU", file=sys.stderr)
        return 1
    ctx = Context(args.device, time.monotonic() + args.budget, Path(tempfile.mkdtemp(prefix="gpu-check-")),
                  args.steps)
    for name, check, needs in chosen:
        outcome = guarded(name, check, ctx, needs)
        report.add(outcome)
        print(f"{name}: {outcome.status} ({outcome.seconds:.0f} s) {outcome.summary}", file=sys.stderr, flush=True)
    print(report.path)
    return 0 if all(o.status in ("passed", "skipped") for o in report.outcomes) else 1
