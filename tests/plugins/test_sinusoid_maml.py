"""MAML against the jointly trained, fine-tuned baseline on sinusoids (MAML paper, Figure 2), in one short run."""
from __future__ import annotations

from metareg.run.config import resolve
from metareg.run.engine import Run


def test_maml_beats_the_fine_tuned_baseline_on_sinusoid(registry):
    results = {}
    for learner in ("maml", "finetune"):
        cfg, selection = resolve(registry, [("train.meta_iterations", 1500), ("train.val_every", 0),
                                            ("train.test_tasks", 100)], {"learner": learner, "benchmark": "sinusoid"})
        results[learner] = Run(cfg, selection).execute(progress=False).metrics["mse"]
    maml, baseline = results["maml"], results["finetune"]
    # the baseline predicts roughly the mean sinusoid (MSE ~ 3); MAML adapts to each task
    assert maml["mean"] + maml["ci95"] < baseline["mean"] - baseline["ci95"]
    assert maml["mean"] < 0.5 * baseline["mean"]
