"""Run a small grid of combinations, interleaved, and print one Markdown table of test metrics ± 95% CI.

Every cell is a full run stored in the results store; for runs with an adversary the table also shows the domain
discriminator's accuracy over the last logged stretch of meta-training (near 50% means aligned features).

    python -m benchmarks.compare --learners protonet maml --benchmarks digits-shift --adversaries none dann \
        [--seed 0] [--store PATH] [--set BENCHMARK:key=value ...] [key=value ...]

``--set digits-shift:train.meta_iterations=100`` applies a setting to one benchmark's cells only.
"""
from __future__ import annotations

import argparse
import time

from metareg.config import parse_overrides, resolve
from metareg.engine import Run
from metareg.errors import IncompatibleError
from metareg.registry import Registry
from metareg.stats import Estimate
from metareg.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", nargs="+", required=True)
    parser.add_argument("--benchmarks", nargs="+", required=True)
    parser.add_argument("--adversaries", nargs="+", default=["none"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store")
    parser.add_argument("--set", action="append", default=[], metavar="BENCHMARK:key=value")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    registry, store = Registry.load(), Store(args.store)
    per_bench: dict[str, list[str]] = {}
    for item in args.set:
        bench, setting = item.split(":", 1)
        per_bench.setdefault(bench, []).append(setting)
    rows = []
    for bench in args.benchmarks:
        for learner in args.learners:
            for adversary in args.adversaries:
                settings = parse_overrides(per_bench.get(bench, []) + args.overrides)
                try:
                    cfg, selection = resolve(registry, settings, {"learner": learner, "benchmark": bench,
                                                                  "adversary": adversary, "seed": args.seed})
                    run = Run(cfg, selection, registry)
                except IncompatibleError as exc:
                    rows.append((bench, learner, adversary, f"skipped: {exc}", "—", "—"))
                    continue
                start = time.perf_counter()
                result = run.execute(progress=not args.quiet, store=store)
                if result.status != "done":
                    rows.append((bench, learner, adversary, f"failed: {result.error}", "—", "—"))
                    continue
                (name, m), = result.metrics.items()
                domain = [h["adversary_domain_accuracy"] for h in result.history if "adversary_domain_accuracy" in h]
                rows.append((bench, learner, adversary, f"{name} {Estimate(m['mean'], m['ci95'], m['n']).format(3)}",
                             f"{domain[-1]:.2f}" if domain else "—", f"{time.perf_counter() - start:.0f}"))
    print("| benchmark | learner | adversary | target test metric, mean ± 95% CI (n) | domain acc. (end) | wall s |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nSeed {args.seed}; settings: {' '.join(args.overrides) or '(defaults)'}"
          + "".join(f"; {b}: {' '.join(s)}" for b, s in per_bench.items()))


if __name__ == "__main__":
    main()
