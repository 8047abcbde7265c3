"""A finished run's result survives a failed write: a model that cannot be written leaves the result stored (one
line, exit 1), a row that cannot be written takes its model file with it, and no temporary file is left."""
from __future__ import annotations

import pytest

from metareg.run import record
from metareg.run.files import model_path
from metareg.run.record import RunResult
from metareg.store.database import Store

from helpers.runs import TINY, json_lines
from helpers.disks import full_disk_after


def test_an_unwritable_models_folder_keeps_the_result_and_says_so_in_one_line(run_cli, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "models").write_text("a file where the models folder goes")  # refused even to root
    code, out, err = run_cli("bench", "--learner", "maml", "--quiet", "--json", *TINY)
    assert code == 1
    [line] = [x for x in err.splitlines() if x.strip()]
    assert "run 1's model could not be written" in line and "its result is stored" in line
    [result] = json_lines(out)
    assert result["status"] == "done" and result["metrics"] and result["model_error"]
    [row] = Store(store).runs()
    assert row.status == "done" and row.metrics == result["metrics"]


def _result(status="done") -> RunResult:
    return RunResult("hash", {"benchmark": "b", "backbone": "k", "learner": "l", "adversary": None,
                              "generator": None}, 0, "cpu", status, 1.0, {"mse": {"mean": 1, "ci95": 0, "n": 1}})


def _claimed(store: Store) -> int:
    return store.claim(config_hash="hash", parts=_result().parts, seed=0, device="cpu", config={},
                       versions={}).run_id


def test_a_full_disk_at_the_model_write_stores_the_result_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    store = Store(tmp_path)
    run_id = _claimed(store)
    full_disk_after(monkeypatch)
    result = _result()
    record.commit(store, run_id, result, model=b"weights")
    assert "No space left on device" in result.model_error
    assert store.get(run_id).status == "done"
    assert not list(tmp_path.rglob("*.tmp")) and not model_path(tmp_path, run_id).exists()


def test_a_row_that_cannot_be_written_takes_its_new_model_file_with_it(tmp_path, monkeypatch):
    from metareg.errors import StoreError

    store = Store(tmp_path)
    run_id = _claimed(store)

    def disk_full(*args, **kwargs):
        raise StoreError("results store: database or disk is full")

    monkeypatch.setattr(store, "finish", disk_full)
    with pytest.raises(StoreError):
        record.commit(store, run_id, _result(), model=b"weights")
    assert not model_path(tmp_path, run_id).exists()  # no model without its run
