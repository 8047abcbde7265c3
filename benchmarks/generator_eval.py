"""Judge a generator on a held-out domain after few-shot fine-tuning, meta-trained start against scratch, in one run.

    python -m benchmarks.generator_eval --benchmark digits-shift [key=value ...] --steps 0 10 50 --out docs/generator \
        [--shots 5] [--generator mtgan] [--n-gen 20] [--seed 0] [--store PATH] [--quiet]

(``key=value`` settings go before ``--steps``, which takes every number after it.)

Protocol. The generator is fitted on the benchmark's source (train split) as in a run, or loaded from its checkpoint
in the store's folder. The held-out domain is the benchmark's test split: classes never seen in training (for
``digits-shift``, under the domain transform). Each of its classes is cut, seeded, into ``--shots`` *few-shot*
samples (all the generator may fine-tune on and condition on), a *feature* part and an *evaluation* part. For each
start (the meta-trained weights; the same networks freshly initialised, "scratch") and each ``--steps`` budget, the
generator is fine-tuned on the few-shot samples of all classes together, then draws ``--n-gen`` samples per class
conditioned on those samples. Reported:

- FD: the Fréchet distance between generated and evaluation samples in the features of a classifier trained on the
  feature part (real images of the held-out classes; no downloaded network), lower is better;
- CAS: classification accuracy score, a classifier trained on the generated samples only and tested on the evaluation
  samples, mean ± 95% CI over those samples;
- reference rows: the few-shot samples themselves (what a learner has without a generator), and real feature-part
  samples as many as generated (the FD a perfect generator would reach at this sample size);
- a PNG grid per row: each line one class, the few-shot samples first, then generated samples.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from metareg.errors import ConfigError
from metareg.host.registry import Registry
from metareg.run.config import parse_overrides, part_config, resolve
from metareg.store.database import Store
from metareg.toolkit.generative_metrics import (classification_accuracy_score, correct, frechet_distance,
                                                predict_features, save_image_grid, train_classifier)
from metareg.toolkit.stats import mean_ci95
from metareg.toolkit.tasks import split_items, torch_generator


def held_out_split(benchmark, shots: int, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The test split's classes cut into few-shot / feature / evaluation parts: name -> (inputs, labels 0..N-1)."""
    pools = getattr(benchmark, "pools", None)
    pool = pools.get("test") if isinstance(pools, dict) else None
    if pool is None:
        raise ConfigError(f"benchmark {benchmark.name!r} exposes no class pools (benchmark.pools['test']); "
                          f"generator_eval needs a ClassPool-based benchmark such as digits-shift or glyphs")
    parts: dict[str, list] = {"few": [], "feature": [], "eval": []}
    for label, cls in enumerate(pool.classes):
        data = pool.by_class[cls]
        if len(data) < shots + 4:
            raise ConfigError(f"held-out class {cls!r} has {len(data)} samples; --shots {shots} leaves too few")
        rest = split_items(list(range(shots, len(data))), [0.5, 0.5], seed + label)
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed + label))
        for name, idx in zip(("few", "feature", "eval"), [list(range(shots))] + rest):
            parts[name].append((data[order[idx]], torch.full((len(idx),), label)))
    return {name: (torch.cat([x for x, _ in v]), torch.cat([y for _, y in v])) for name, v in parts.items()}


def per_class(x: torch.Tensor, y: torch.Tensor, n: int) -> list[torch.Tensor]:
    """The first ``n`` inputs of each class, one tensor per class (a grid's rows)."""
    return [x[y == c][:n] for c in torch.unique(y)]


def first_per_class(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    rows = per_class(x, y, n)
    return torch.cat(rows), torch.cat([torch.full((len(r),), int(c)) for r, c in zip(rows, torch.unique(y))])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", default="digits-shift")
    parser.add_argument("--generator", default="mtgan")
    parser.add_argument("--shots", type=int, default=5, help="real samples per held-out class to fine-tune on")
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 10, 50], help="fine-tuning budgets")
    parser.add_argument("--n-gen", type=int, default=20, help="generated samples per class")
    parser.add_argument("--classifier-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", help="results folder whose generators/ holds the checkpoints")
    parser.add_argument("--out", default="generator-eval", help="folder for the PNG grids")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args(argv)

    registry = Registry.load()
    cfg, selection = resolve(registry, parse_overrides(args.overrides),
                             {"learner": "protonet", "benchmark": args.benchmark, "generator": args.generator})
    benchmark = selection.benchmark.cls(part_config(cfg, "benchmark"))
    gen = selection.generator.cls(benchmark.spec, part_config(cfg, "generator"))
    store = Store(args.store)
    start = time.perf_counter()
    gen.fit(benchmark, torch.device("cpu"), not args.quiet, checkpoint_dir=store.path.parent, seed=args.seed)
    fit_seconds = time.perf_counter() - start
    data = held_out_split(benchmark, args.shots, args.seed)
    few_x, few_y = data["few"]
    eval_x, eval_y = data["eval"]
    n_classes = int(few_y.max()) + 1
    judge = train_classifier(*data["feature"], n_classes, steps=args.classifier_steps, seed=args.seed)
    judge_acc = mean_ci95(correct(judge, eval_x, eval_y).tolist())
    eval_features = predict_features(judge, eval_x)
    low, high = gen.value_range

    def score(x, y, label, rows_for_grid):
        fd = frechet_distance(predict_features(judge, x), eval_features)
        cas = mean_ci95(classification_accuracy_score(x, y, eval_x, eval_y, n_classes, args.classifier_steps,
                                                      args.seed).tolist())
        path = save_image_grid(rows_for_grid, Path(args.out) / f"{args.benchmark}-{label}.png", low, high)
        return fd, cas, path

    rows = []
    real_x, real_y = first_per_class(*data["feature"], args.n_gen)
    fd, cas, path = score(real_x, real_y, "real", per_class(real_x, real_y, 12))
    rows.append(("real samples (reference)", "—", len(real_x), fd, cas, path))
    fd, cas, path = score(few_x, few_y, "few-shot", per_class(few_x, few_y, args.shots))
    rows.append((f"the {args.shots}-shot samples only", "—", len(few_x), fd, cas, path))
    rng = torch_generator(args.seed, "generator_eval")
    for init in ("meta-trained", "scratch"):
        for steps in args.steps:
            t0 = time.perf_counter()
            model = gen.finetune(few_x, few_y, rng, steps=steps,
                                 start=gen.model if init == "meta-trained" else gen.new_model())
            gx, gy = gen.generate(model, few_x, few_y, args.n_gen, rng)
            seconds = time.perf_counter() - t0
            grid = [torch.cat([f, g[:12]]) for f, g in zip(per_class(few_x, few_y, args.shots), per_class(gx, gy, 12))]
            fd, cas, path = score(gx, gy, f"{init}-{steps}", grid)
            rows.append((f"{init}, fine-tuned", f"{steps} ({seconds:.1f} s)", len(gx), fd, cas, path))

    print(f"\nGenerator {args.generator!r} on the held-out (test) classes of {args.benchmark}: {n_classes} classes, "
          f"{args.shots} real samples per class to fine-tune on, {len(eval_x)} real evaluation samples. "
          f"Generator {'loaded from ' + str(gen.checkpoint_path) if gen.loaded_from_checkpoint else 'meta-trained'} "
          f"in {fit_seconds:.0f} s. Feature classifier (trained on {len(data['feature'][0])} other real samples of "
          f"these classes): accuracy {judge_acc.format(3)} on the evaluation samples.\n")
    print("| samples | fine-tuning steps (time) | n | FD ↓ | CAS, mean ± 95% CI (n) ↑ | grid |")
    print("|---|---|---|---|---|---|")
    for what, steps, n, fd, cas, path in rows:
        print(f"| {what} | {steps} | {n} | {fd:.2f} | {cas.format(3)} | {path} |")
    print(f"\nSeed {args.seed}; settings: {' '.join(args.overrides) or '(defaults)'}")


if __name__ == "__main__":
    main()
