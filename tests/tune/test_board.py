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


def test_a_suites_search_block_narrows_the_space_and_its_board_shows_the_tuned_row(run_cli, tmp_path):
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
    code, out, _ = run_cli("leaderboard", "--suite", str(suite), "--format", "json", *TUNE[-4:])
    roles = sorted(r["study_role"] for s in json.loads(out)["sections"] for r in s["rows"])
    assert roles == ["default (untuned)", "tuned (2 trials, source-val)"]  # the suite's board shows the tuned row


def test_the_html_report_plots_each_studys_validation_metric_by_trial_and_names_the_selected_one(run_cli, tmp_path):
    assert run_cli(*TUNE)[0] == 0
    code, out, err = run_cli("leaderboard", "--format", "html")
    assert code == 0, err
    studies = Store(tmp_path / "store").study_runs()
    chosen = next(r["params"] for r in studies if r["role"] == "tuned")
    number = next(r["number"] for r in studies if r["role"] == "trial" and r["params"] == chosen)
    label = " + ".join(name for _, name in studies[0]["spec"]["axes"])
    html = out[out.index("<h2>Tuning studies</h2>"):]
    assert f"<h3>{label}</h3>" in html and "2 trials selected on source-val" in html
    assert f"selected: trial {number} (" in html
    assert html.count("data:image/png;base64,") == 1 and "validation mse of each trial" in html


def test_a_board_of_trials_reads_only_validation_values_and_tracks_the_best_so_far():
    from types import SimpleNamespace

    from metareg.board.studies import study_trials

    spec = {"axes": [["benchmark", "sinusoid"], ["learner", "maml"]], "select": "source-val"}
    vals = {"a": [0.5, 0.3], "b": [0.9], "c": [0.2, 0.4]}
    rows = [SimpleNamespace(id=i, config_hash=h, status="done", metrics={"mse": {"mean": 99.0}},
                            history=[{"iteration": n, "val_mse": v} for n, v in enumerate(vals[h])])
            for i, h in enumerate(vals)]
    rows.append(SimpleNamespace(id=9, config_hash="d", status="failed", metrics=None, history=[]))
    studies = [{"study": "s", "role": "trial", "number": n, "config_hash": h, "params": {"x": n}, "spec": spec}
               for n, h in enumerate("abcd")]
    studies.append({"study": "s", "role": "tuned", "number": 0, "config_hash": "c", "params": {"x": 2}, "spec": spec})
    (study,) = study_trials(studies, rows)
    assert [t.value for t in study.trials] == [0.3, 0.9, 0.2, None]  # best validation; the test 99.0 never read
    assert [t.state for t in study.trials] == ["done", "done", "done", "failed"]
    assert study.best_so_far() == [(0, 0.3), (1, 0.3), (2, 0.2)] and study.selected == 2


def test_a_target_val_study_validates_its_trials_and_tuned_rows_on_the_target_and_is_marked_an_oracle(run_cli,
                                                                                                     tmp_path):
    code, _, err = run_cli("tune", "--learner", "protonet", "--benchmark", "digits-shift", "--trials", "2",
                           "--select", "target-val", "--quiet", "--search", "train.outer_lr=log:0.0001:0.01",
                           "--search-only", "train.meta_iterations=4", "train.val_every=2", "train.val_tasks=4",
                           "train.test_tasks=4", "train.eval_batch_size=4", "benchmark.digits-shift.image_size=16",
                           "backbone.conv4.channels=4")
    assert code == 0, err
    store = Store(tmp_path / "store")
    runs = {r.config_hash: r for r in store.runs()}
    for r in store.study_runs():
        own = runs[r["config_hash"]].config["benchmark"]["digits-shift"]
        assert own.get("val_domain", "source") == ("source" if r["role"] == "default" else "target"), r["role"]
    code, out, _ = run_cli("leaderboard", "--format", "json")
    roles = {r["study_role"] for s in json.loads(out)["sections"] for r in s["rows"]}
    assert roles == {"default (untuned)", "tuned (2 trials, target-val: an oracle)"}
