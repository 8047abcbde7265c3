"""The SQLite store: where it lives, what a row holds, and two writers on one file."""
from __future__ import annotations

import threading

from metareg.store import Store, store_path


def test_store_path_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("METAREG_STORE", raising=False)
    assert str(store_path()) == "metareg-results/results.sqlite"
    monkeypatch.setenv("METAREG_STORE", str(tmp_path / "env"))
    assert store_path() == tmp_path / "env" / "results.sqlite"
    assert store_path(tmp_path / "x.sqlite") == tmp_path / "x.sqlite"


def _start(store: Store, seed: int = 0) -> int:
    return store.start(config_hash="abc", parts={"benchmark": "b", "backbone": "k", "learner": "l"}, seed=seed,
                       device="cpu", config={"run": {"seed": seed}}, versions={"torch": "x"})


def test_run_row_goes_from_running_to_done(tmp_path):
    store = Store(tmp_path)
    run_id = _start(store)
    assert store.get(run_id).status == "running"
    store.finish(run_id, status="done", wall_time=1.5, metrics={"mse": {"mean": 1.0, "ci95": 0.1, "n": 600}},
                 history=[{"iteration": 1}])
    row = store.get(run_id)
    assert (row.status, row.wall_time, row.metrics["mse"]["n"], row.config["run"]["seed"]) == ("done", 1.5, 600, 0)
    assert row.adversary is None and row.finished_at >= row.started_at


def test_two_writers_on_one_store_lose_nothing(tmp_path):
    errors = []

    def writer(offset: int):
        try:
            store = Store(tmp_path)
            for i in range(20):
                store.finish(_start(store, offset + i), status="done", wall_time=0.0)
        except Exception as exc:  # a thread's exception would otherwise only be a warning
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 100,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = Store(tmp_path).runs(status="done")
    assert sorted(r.seed for r in rows) == sorted(list(range(20)) + list(range(100, 120)))
