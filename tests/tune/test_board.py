"""The board after ``metareg tune``: the tuned row (labelled with its trial count and selection rule, its selected
values in its settings) beside the default row; the trials are the search, left out unless ``--trials``. A suite's
``search:`` block narrows the space of the cells it names."""
from __future__ import annotations

import json

import pytest

from metareg.store.database import Store

pytest.importorskip("optuna")

TUNE = ("tune", "--learner", "maml", "--benchmark", "sinusoid", "--trials", "2", "--quiet",
        "train.meta_iterations=20", "train.val_every=10", "train.test_tasks=10", "train.eval_batch_size=5")


def test_the_board_shows_the_tuned_and_default_rows_and_the_trials_only_when_asked(run_cli, tmp_path):
    assert run_cli(*TUNE)[0] == 0
    code, out, _ = run_cli("leaderboard", "--format", "json")
    rows = [r for s in json.loads(out)["sections"] for r in s["rows"]]
    assert sorted(r["study_role"] for r in rows) == ["default (untuned)", "tuned (2 trials, source-val)"]
    tuned = next(r for r in rows if r["study_role"].startswith("tuned"))
    chosen = next(r["params"] for r in Store(tmp_path / "store").study_runs() if r["role"] == "tuned")
    assert all(f"{key}={value}" in tuned["settings"] for key, value in chosen.items())
    code, out, _ = run_cli("leaderboard")
    assert "[tuned (2 trials, source-val)]" in out and "[default (untuned)]" in out
    code, out, _ = run_cli("leaderboard", "--trials", "--format", "json")
    roles = [r["study_role"] for s in json.loads(out)["sections"] for r in s["rows"]]
    assert len(roles) == 3 and sum(role.startswith("trial") for role in roles) == 1  # one trial is also the tuned row


def test_a_suites_search_block_replaces_the_declared_space_of_the_cells_it_names(run_cli, tmp_path):
    suite = tmp_path / "searched.yaml"
    suite.write_text("""
grid:
  - benchmark: sinusoid
    learner: maml
search:
  learner: {maml: {inner_lr: "log:0.02:0.03"}}
  train: {outer_lr: [0.001, 0.002]}
""")
    code, _, err = run_cli(*[a for a in TUNE if a not in ("--learner", "maml", "--benchmark", "sinusoid")],
                           "--suite", str(suite))
    assert code == 0, err
    trials = [r["params"] for r in Store(tmp_path / "store").study_runs() if r["role"] == "trial"]
    assert all(0.02 <= p["learner.maml.inner_lr"] <= 0.03 and p["train.outer_lr"] in (0.001, 0.002) for p in trials)
    assert all("learner.maml.inner_steps" in p for p in trials)  # the declared rest of the space stays
