"""Sinusoid regression for K = 5, 10, 20: meta-learners against the jointly trained, fine-tuned baseline (MAML, Fig. 2).

Every cell is a full `metareg bench` run with its default config (the MAML paper's protocol; see docs/results.md),
stored in the results store; the table is printed as Markdown with the protocol beside it.

    python -m benchmarks.sinusoid_table [--shots 5 10 20] [--learners maml finetune] [--store PATH] [key=value ...]

A learner may carry its own settings as ``NAME:key=value,key=value`` (a row of its own, labelled so), e.g.
``maml:test_inner_steps=1`` for MAML under the CAVIA paper's protocol (as many test steps as training steps).
"""
from __future__ import annotations

import argparse

from metareg.config import parse_overrides, resolve
from metareg.engine import Run
from metareg.registry import Registry
from metareg.stats import Estimate
from metareg.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--learners", nargs="+", default=["maml", "finetune"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    registry, store = Registry.load(), Store(args.store)
    cells: dict[tuple[str, int], tuple[Estimate, float]] = {}
    protocol = None
    for k in args.shots:
        for learner in args.learners:  # interleaved so no learner gets a quieter machine
            name, _, own = learner.partition(":")
            own_settings = [f"learner.{name}.{kv}" for kv in own.split(",") if kv]
            settings = parse_overrides([f"benchmark.sinusoid.k_shot={k}", *args.overrides, *own_settings])
            cfg, selection = resolve(registry, settings, {"learner": name, "benchmark": "sinusoid",
                                                          "seed": args.seed})
            result = Run(cfg, selection, registry).execute(progress=not args.quiet, store=store)
            if result.status != "done":
                raise SystemExit(f"{learner} K={k} failed: {result.error}")
            m = result.metrics["mse"]
            cells[(learner, k)] = (Estimate(m["mean"], m["ci95"], m["n"]), result.wall_time)
            protocol = protocol or cfg
    print("| learner | " + " | ".join(f"K={k} test MSE" for k in args.shots) + " | wall s (per run) |")
    print("|---|" + "---|" * len(args.shots) + "---|")
    for learner in args.learners:
        values = [cells[(learner, k)][0].format(3) for k in args.shots]
        walls = "/".join(f"{cells[(learner, k)][1]:.0f}" for k in args.shots)
        print(f"| {learner} | " + " | ".join(values) + f" | {walls} |")
    t = protocol.train
    print(f"\nProtocol: MLP {list(protocol.backbone.mlp.hidden)}, meta-batch {t.meta_batch_size}, "
          f"{t.meta_iterations} Adam updates at {t.outer_lr}, best of {t.meta_iterations // t.val_every} validations "
          f"on {t.val_tasks} tasks; test on {t.test_tasks} tasks with "
          f"{protocol.benchmark.sinusoid.eval_query} query points each, seed {args.seed}.")


if __name__ == "__main__":
    main()
