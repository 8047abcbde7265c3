"""What CAVIA's per-task clipping costs: one meta-step with ``train.grad_clip=task_value`` taken batched (the
engine's way) and task by task (the reference's), beside the unclipped step, interleaved in one process.

    python -m benchmarks.task_clip [--steps 50] [--rounds 5] [--k-shot 10]

Why a ratio and not a time: the three forms run the same forward pass on the same meta-batches, round after round,
so a slower machine or a neighbour's load moves all three alike. The workload is the CAVIA reference's sinusoid
(``regression/arguments.py``): 25 tasks, MLP 40-40, 5 context parameters, one inner step, on one thread.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from metareg.host.registry import Registry
from metareg.run.clipping import add_task_clipped, add_task_clipped_looped, trainable

FORMS = ("batched", "looped", "unclipped")


def build(k_shot: int):
    registry = Registry.load(warn=False)
    learner_cls = registry.get("learner", "cavia").cls
    backbone_cls = registry.get("backbone", "mlp").cls
    bench_cls = registry.get("benchmark", "sinusoid").cls
    bench = bench_cls(bench_cls.Config(k_shot=k_shot))
    config = learner_cls.Config(vectorize="vmap")
    net = backbone_cls((1,), backbone_cls.Config(hidden=[40, 40]), context_dim=config.context_dim)
    return learner_cls(net, bench.spec, config), bench


def step(learner, batch, form: str) -> None:
    params = trainable(list(learner.parameters()))
    out = learner.meta_loss(batch)
    if form == "unclipped":
        torch.autograd.grad(out.loss, params)
        return
    total = [torch.zeros_like(p) for p in params]
    (add_task_clipped if form == "batched" else add_task_clipped_looped)(total, params, out.task_losses, 10.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="meta-steps per form per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k-shot", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    learner, bench = build(args.k_shot)
    generator = torch.Generator().manual_seed(0)
    batches = [bench.sample("train", 25, generator) for _ in range(args.steps)]
    for form in FORMS:  # warm-up
        step(learner, batches[0], form)
    times = {form: [] for form in FORMS}
    for _ in range(args.rounds):
        for form in FORMS:
            start = time.perf_counter()
            for batch in batches:
                step(learner, batch, form)
            times[form].append((time.perf_counter() - start) / args.steps * 1000)
    median = {form: statistics.median(t) for form, t in times.items()}
    print(f"torch {torch.__version__}, 1 thread, {args.rounds} rounds x {args.steps} steps, median ms per step")
    print("| form | ms per meta-step | vs looped |")
    print("|---|---|---|")
    for form in FORMS:
        print(f"| {form} | {median[form]:.2f} | {median['looped'] / median[form]:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
