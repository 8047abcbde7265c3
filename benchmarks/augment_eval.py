"""Few-shot accuracy of a learner with and without generative support-set augmentation, one Markdown table.

    python -m benchmarks.augment_eval --learner protonet --benchmarks digits-shift glyphs \
        [--variants none mtgan mtgan-adapt] [--adversary dann] [--seed 0] [--store PATH] \
        [--set BENCHMARK:key=value ...] [key=value ...]

Variants: ``none`` (no generator), ``mtgan`` (the meta-trained generator augments every support set, no per-task
fine-tuning) and ``mtgan-adapt`` (it is first fine-tuned on each evaluation task's support set). Every cell is a full
``metareg bench`` run stored in the results store; the generator is meta-trained by the first MT-GAN cell of a
benchmark and loaded from its checkpoint by the next. All variants of a benchmark are tested on the same episodes
(the engine derives them from the benchmark config and seed only). ``generator.*`` settings apply to the MT-GAN cells.
"""
from __future__ import annotations

import argparse
import time

from metareg.config import parse_overrides, resolve
from metareg.engine import Run
from metareg.registry import Registry
from metareg.stats import Estimate
from metareg.store import Store

VARIANTS = {"none": (None, []), "mtgan": ("mtgan", [("generator.mtgan.adapt_to_task", False)]),
            "mtgan-adapt": ("mtgan", [("generator.mtgan.adapt_to_task", True)])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learner", default="protonet")
    parser.add_argument("--benchmarks", nargs="+", required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--adversary", default="none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store")
    parser.add_argument("--set", action="append", default=[], metavar="BENCHMARK:key=value")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    registry, store = Registry.load(), Store(args.store)
    rows = []
    for bench in args.benchmarks:
        settings = parse_overrides([s.split(":", 1)[1] for s in args.set if s.split(":", 1)[0] == bench]
                                   + args.overrides)
        baseline = None
        for variant in args.variants:
            generator, extra = VARIANTS[variant]
            chosen = [s for s in settings if generator or not s[0].startswith("generator.")] + (extra if generator else [])
            cfg, selection = resolve(registry, chosen, {"learner": args.learner, "benchmark": bench,
                                                        "adversary": args.adversary, "generator": generator,
                                                        "seed": args.seed})
            start = time.perf_counter()
            result = Run(cfg, selection, registry).execute(progress=not args.quiet, store=store)
            seconds = time.perf_counter() - start
            if result.status != "done":
                rows.append((bench, variant, f"failed: {result.error}", "—", f"{seconds:.0f}"))
                continue
            (name, m), = result.metrics.items()
            estimate = Estimate(m["mean"], m["ci95"], m["n"])
            baseline = estimate if variant == "none" else baseline
            gain = f"{estimate.mean - baseline.mean:+.3f}" if baseline is not None and variant != "none" else "—"
            rows.append((bench, variant, f"{name} {estimate.format(3)}", gain, f"{seconds:.0f}"))
    print(f"| benchmark | augmentation ({args.learner}, adversary {args.adversary}) | target test metric, "
          f"mean ± 95% CI (n) | Δ vs none | wall s |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nSeed {args.seed}; settings: {' '.join(args.overrides) or '(defaults)'}"
          + "".join(f"; {s}" for s in args.set))


if __name__ == "__main__":
    main()
