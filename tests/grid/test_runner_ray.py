"""``--executor ray``: each cell a Ray task on a local cluster, its result and model written back into the store by
the runner."""
from __future__ import annotations

import importlib.util

import pytest

from metareg.store.database import Store

from helpers.runs import TINY, json_lines


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="needs Ray: pip install 'metareg[ray]' (.ci/run does)")
def test_a_two_cell_grid_runs_as_ray_tasks_and_lands_in_the_store(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    code, out, err = run_cli("bench", "--executor", "ray", "--learner", "maml,finetune", "--json", "--quiet", *TINY)
    assert code == 0, err
    results = json_lines(out)
    assert sorted(r["parts"]["learner"] for r in results) == ["finetune", "maml"]
    rows = Store(tmp_path / "store").runs()
    assert len(rows) == 2 and all(r.status == "done" and r.metrics["mse"]["n"] == 6 and r.history for r in rows)
    assert {r.config_hash for r in rows} == {r["config_hash"] for r in results}
    from metareg.run.files import model_path
    from metareg.run.models import read_model

    for r in rows:  # the tasks sent their weights back and the runner kept them beside the store
        assert read_model(model_path(tmp_path / "store", r.id), "cpu")["config_hash"] == r.config_hash
    code, out, _ = run_cli("bench", "--executor", "ray", "--learner", "maml,finetune", "--json", "--quiet", *TINY)
    assert code == 0 and all(r["reused"] for r in json_lines(out))  # resumed without starting a cluster's work


def test_ray_options_without_the_ray_executor_are_an_error(run_cli):
    code, _, err = run_cli("bench", "--ray-address", "auto", "--learner", "maml", "--quiet", *TINY)
    assert code == 2 and "--ray-address is for --executor ray" in err
