"""Why a MAML sinusoid model's test MSE can blow up with more test steps: one stored run's weights fine-tuned on
the same test tasks with 1 to 10 SGD steps at several step sizes, per task, so the mean, the median and the share
of tasks that diverged are seen side by side.

    python -m benchmarks.maml_test_steps --store STORE --run RUN_ID [--lrs 0.01,0.005,0.001] [--tasks 600]

Why per task: the board's mean ± CI over tasks hides whether every task got a little worse or a few tasks went to
infinity; a step size that is stable for most tasks but not for the steepest ones is the second. The tasks are
drawn from the benchmark's test distribution with a fixed seed of their own (not the run's test episodes), so the
1-step column at the run's step size estimates its stored test MSE, within its interval.
"""
from __future__ import annotations

import argparse
import math
import statistics

import torch

from metareg.toolkit.functional import task_losses
from metareg.toolkit.tasks import torch_generator

DIVERGED = 100.0  # an MSE above this on tasks of amplitude <= 5 (a zero prediction scores at most 12.5) diverged


def stored_learner(store_dir: str, run_id: int):
    """The run's learner and benchmark with its stored weights (``load_run`` rebuilds classification runs only)."""
    from metareg.host.registry import Registry
    from metareg.run.config import _flatten, resolve
    from metareg.run.engine import Run
    from metareg.run.files import stored_model
    from metareg.run.models import read_model
    from metareg.store.database import existing_store

    store = existing_store(store_dir)
    row = store.get(run_id)
    cfg, selection = resolve(Registry.load(warn=False), [(k, v) for k, v in _flatten(row.config) if k != "run.device"]
                             + [("run.device", "cpu")])
    run = Run(cfg, selection, Registry.load(warn=False))
    run.learner.load_state_dict(read_model(stored_model(store, row.id), run.device, row.config_hash)["learner"])
    return run.learner, run.benchmark


def per_task_mse(learner, batch, steps: int) -> torch.Tensor:
    """Each task's query MSE after ``steps`` test-time steps, as the engine's test phase predicts (``predict``)."""
    learner.config.test_inner_steps = steps
    return task_losses("regression", learner.predict(batch), batch.query_y).detach()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--lrs", default="0.01,0.005,0.001")
    parser.add_argument("--tasks", type=int, default=600)
    parser.add_argument("--steps", default="1,2,3,5,10")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    learner, bench = stored_learner(args.store, args.run)
    learner.eval()
    batch = bench.sample("test", args.tasks, torch_generator(0, "maml_test_steps"))
    print(f"run {args.run}: {args.tasks} test tasks, K={batch.support_x.shape[1]}; per-task MSE")
    print("| inner lr | steps | mean | median | 90th pct | diverged (> 100 or not finite) |")
    print("|---|---|---|---|---|---|")
    original = learner.config.inner_lr
    for lr in (float(v) for v in args.lrs.split(",")):
        learner.config.inner_lr = lr
        for steps in (int(v) for v in args.steps.split(",")):
            mse = per_task_mse(learner, batch, steps).tolist()
            finite = sorted(v for v in mse if math.isfinite(v))
            diverged = sum(1 for v in mse if not math.isfinite(v) or v > DIVERGED)
            mean = statistics.fmean(mse) if len(finite) == len(mse) else float("inf")
            p90 = finite[int(0.9 * (len(finite) - 1))] if finite else float("nan")
            print(f"| {lr:g} | {steps} | {mean:.3f} | {statistics.median(mse):.3f} | {p90:.3f} | "
                  f"{diverged} ({100 * diverged / len(mse):.1f}%) |")
    learner.config.inner_lr = original
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
