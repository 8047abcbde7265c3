"""Model selection reads the validation metric only: a trial's test metric never reaches the sampler or the
selection. Pinned adversarially: the stored test metrics are rewritten so that the worst trial on validation is
the best on test, and the study, replayed, proposes and selects exactly what it did."""
from __future__ import annotations

import json
import sqlite3

import pytest

from metareg.store.database import Store

pytest.importorskip("optuna")

TUNE = ("tune", "--learner", "maml", "--benchmark", "sinusoid", "--trials", "4", "--quiet", "--sampler", "tpe",
        "train.meta_iterations=20", "train.val_every=10", "train.test_tasks=10", "train.eval_batch_size=5")


def test_rewriting_every_trials_test_metric_changes_no_proposal_and_no_selection(run_cli, tmp_path):
    code, first, err = run_cli(*TUNE)
    assert code == 0, err
    store = Store(tmp_path / "store")
    trial_hashes = [r["config_hash"] for r in store.study_runs() if r["role"] == "trial"]
    selected = {r["config_hash"] for r in store.study_runs() if r["role"] == "tuned"}
    [chosen] = selected
    # the selected trial gets the worst test MSE, every other trial a perfect one
    with sqlite3.connect(store.path) as db:
        for row in store.runs():
            if row.config_hash in trial_hashes:
                metrics = dict(row.metrics)
                metrics["mse"] = {**metrics["mse"], "mean": 1e9 if row.config_hash == chosen else 0.0}
                db.execute("UPDATE runs SET metrics = ? WHERE id = ?", (json.dumps(metrics), row.id))
    code, again, _ = run_cli(*TUNE)
    store = Store(tmp_path / "store")
    assert code == 0 and [r["config_hash"] for r in store.study_runs() if r["role"] == "trial"] == trial_hashes
    assert {r["config_hash"] for r in store.study_runs() if r["role"] == "tuned"} == selected
    assert [line for line in again.splitlines() if "trial" in line] == \
        [line for line in first.splitlines() if "trial" in line]


def test_the_value_told_to_the_sampler_is_the_best_validation_point_of_the_history():
    from types import SimpleNamespace

    from metareg.tune.study import validation_value

    row = SimpleNamespace(status="done", metrics={"mse": {"mean": -1.0}},
                          history=[{"iteration": 10, "val_mse": 0.5}, {"iteration": 15, "train_loss": 9.0},
                                   {"iteration": 20, "val_mse": 0.3}, {"iteration": 30, "val_mse": 0.4}])
    assert validation_value(row, "mse", higher_is_better=False) == 0.3
    accuracy = SimpleNamespace(status="done", metrics={}, history=[{"val_accuracy": 0.6}, {"val_accuracy": 0.7}])
    assert validation_value(accuracy, "accuracy", higher_is_better=True) == 0.7
    assert validation_value(SimpleNamespace(status="failed", history=[{"val_mse": 0.1}]), "mse", False) is None
