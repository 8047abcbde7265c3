"""``metareg tune``: a study stores exactly N distinct trials plus the selected and default configurations on every
seed, does nothing new when run again, and ends with exactly N trials when killed mid-study (SIGKILL) and re-run."""
from __future__ import annotations

import sys
from collections import Counter

import pytest

from metareg.store.database import Store

from helpers.runs import sigkill_mid_run

pytest.importorskip("optuna")

#: a small MAML study on sinusoid: each run well under a second, validated, so it can be selected on
TUNE = ("tune", "--learner", "maml", "--benchmark", "sinusoid", "--trials", "3", "--quiet",
        "train.meta_iterations=20", "train.val_every=10", "train.test_tasks=10", "train.eval_batch_size=5")


def _roles(store_dir) -> Counter:
    return Counter(r["role"] for r in Store(store_dir).study_runs())


def test_a_study_stores_n_distinct_trials_and_the_selected_and_default_rows_per_seed(run_cli, tmp_path):
    code, out, err = run_cli(*TUNE, "--seeds", "0-1")
    assert code == 0, err
    store = Store(tmp_path / "store")
    trials = [r for r in store.study_runs() if r["role"] == "trial"]
    assert len(trials) == 3 and len({r["config_hash"] for r in trials}) == 3
    assert _roles(tmp_path / "store") == Counter(trial=3, tuned=2, default=2)
    tuned = {r["config_hash"] for r in store.study_runs() if r["role"] == "tuned"}
    assert len(tuned) == 2 and len({r["config_hash"] for r in trials} & tuned) == 1  # the seed-0 re-run is a trial
    assert len(store.runs()) == 3 + 1 + 2 and all(r.status == "done" for r in store.runs())
    assert "<- selected" in out and "tuned on seeds 0,1: test mse" in out and "default on seeds 0,1" in out
    # the same command again: nothing new, the same selection
    code, again, _ = run_cli(*TUNE, "--seeds", "0-1")
    assert code == 0 and again == out and len(Store(tmp_path / "store").runs()) == 6
    code, shown, _ = run_cli(*TUNE, "--seeds", "0-1", "--show")
    assert code == 0 and shown.count("  trial ") == 3 and "(done)" in shown


def test_a_study_killed_mid_trial_ends_with_exactly_n_trials_none_repeated(run_cli, tmp_path):
    store_dir = tmp_path / "store"
    slow = [a for a in TUNE if not a.startswith("train.meta_iterations")] + ["train.meta_iterations=400"]
    sigkill_mid_run([sys.executable, "-m", "metareg", *slow, "--store", str(store_dir)], store_dir)
    kept = {r.config_hash: r.id for r in Store(store_dir).runs() if r.status == "done"}
    code, _, err = run_cli(*slow, "--store", str(store_dir))
    assert code == 0, err
    store = Store(store_dir)
    trials = [r for r in store.study_runs() if r["role"] == "trial"]
    assert len(trials) == 3 and len({r["config_hash"] for r in trials}) == 3
    by_hash = Counter(r.config_hash for r in store.runs())
    assert all(n == 1 for n in by_hash.values())  # no trial ran twice
    assert all(r.status == "done" for r in store.runs())
    assert all(any(r.id == run_id for r in store.runs()) for run_id in kept.values())  # finished trials were kept


def test_the_same_command_proposes_the_same_trials_and_another_sampler_seed_others(run_cli, tmp_path):
    first = tmp_path / "a"
    second = tmp_path / "b"
    assert run_cli(*TUNE, "--store", str(first))[0] == 0
    assert run_cli(*TUNE, "--store", str(second))[0] == 0
    params = [[r["params"] for r in Store(d).study_runs() if r["role"] == "trial"] for d in (first, second)]
    assert params[0] == params[1]
    assert run_cli(*TUNE, "--store", str(second), "--sampler-seed", "1")[0] == 0
    other = [r["params"] for r in Store(second).study_runs() if r["role"] == "trial" and r["params"] not in params[0]]
    assert len(other) == 3
