"""``metareg tune --executor ray``: trials run as Ray tasks propose, run and select exactly as local workers do."""
from __future__ import annotations

import importlib.util

import pytest

from metareg.store.database import Store

pytest.importorskip("optuna")

TUNE = ("tune", "--learner", "maml", "--benchmark", "sinusoid", "--trials", "2", "--workers", "2", "--quiet",
        "train.meta_iterations=20", "train.val_every=10", "train.test_tasks=10", "train.eval_batch_size=5")


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="needs Ray: pip install 'metareg[ray]' (.ci/run does)")
def test_a_study_on_ray_proposes_and_selects_what_local_workers_do(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    code, _, err = run_cli(*TUNE, "--executor", "ray", "--store", str(tmp_path / "ray"))
    assert code == 0, err
    code, _, err = run_cli(*TUNE, "--store", str(tmp_path / "local"))
    assert code == 0, err

    def study(name):
        store = Store(tmp_path / name)
        assert all(r.status == "done" for r in store.runs())
        return sorted((r["role"], r["number"], r["config_hash"]) for r in store.study_runs())

    assert study("ray") == study("local") and len(study("ray")) == 2 + 1 + 1
