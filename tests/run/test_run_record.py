"""One record per run: a cell reused from the store reports the same record its fresh run reported, and every way
a run reaches the store (a worker's commit, the runner's commit of what a remote worker sent back) writes the
same row and model file (``metareg.run.record.commit``)."""
from __future__ import annotations

import pytest

from metareg.grid.cell import execute_cell
from metareg.grid.expand import Block, expand
from metareg.host.registry import Registry
from metareg.run.config import parse_overrides
from metareg.run.files import model_path
from metareg.store.database import Store

from helpers.runs import TINY, json_lines

SAME = ("config_hash", "run_id", "parts", "seed", "device", "status", "metrics", "error", "last_logged")


def test_a_reused_cell_reports_the_record_its_fresh_run_reported(run_cli, tmp_path):
    grid = ("bench", "--learner", "maml", "--json", "--quiet", *TINY)
    code, out, _ = run_cli(*grid)
    [fresh] = json_lines(out)
    code_again, out, _ = run_cli(*grid)
    [reused] = json_lines(out)
    assert code == code_again == 0 and reused["reused"] and "reused" not in fresh
    assert {k: reused[k] for k in SAME} == {k: fresh[k] for k in SAME}


@pytest.mark.parametrize("worker_commits", [True, False])
def test_a_worker_commit_and_a_runner_commit_write_the_same_row_and_model(tmp_path, worker_commits):
    from metareg.grid.runner import GridRunner

    class Inline:
        """An executor that runs each cell here, committing in the worker or handing the outcome back."""
        commits_in_worker = worker_commits

        def __init__(self):
            self.jobs = []

        def free(self):
            return 1 - len(self.jobs)

        def submit(self, key, cell, expected_hash, claimed):
            self.jobs.append((key, execute_cell(cell, expected_hash, claimed=claimed)))

        def wait(self):
            done, self.jobs = self.jobs, []
            return done

        def close(self):
            pass

    registry = Registry.load(warn=False)
    plan = expand(registry, [Block({"learner": ("maml",), "benchmark": ("sinusoid",)})], parse_overrides(TINY),
                  device="cpu")
    store = Store(tmp_path / "results.sqlite")
    report = GridRunner(store, Inline()).run(plan)
    [cell] = report.cells
    [row] = store.runs()
    assert cell.state == "done" and row.status == "done" and row.id == cell.run_id == cell.result.run_id
    assert row.device == "cpu" and row.metrics == cell.result.metrics
    assert model_path(store.path.parent, row.id).is_file()
