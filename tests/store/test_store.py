"""The SQLite store: where it lives, what a row holds, two writers on one file, and the files it refuses."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from metareg.errors import StoreError
from metareg.store.database import Store, store_path
from metareg.store.schema import SCHEMA_VERSION


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


def test_a_store_gets_the_schema_version_and_an_older_one_is_migrated_to_it(tmp_path):
    Store(tmp_path / "new")
    with sqlite3.connect(tmp_path / "new" / "results.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with sqlite3.connect(tmp_path / "old.sqlite") as db:  # a store from before versions: user_version 0
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, config_hash TEXT, benchmark TEXT, backbone TEXT,"
                   " learner TEXT, adversary TEXT, generator TEXT, seed INTEGER, status TEXT, error TEXT, device TEXT,"
                   " wall_time REAL, started_at REAL, finished_at REAL, config TEXT, versions TEXT, metrics TEXT,"
                   " history TEXT)")
    assert Store(tmp_path / "old.sqlite").runs() == []
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert {"owner", "heartbeat_at"} <= {r[1] for r in db.execute("PRAGMA table_info(runs)")}


@pytest.mark.parametrize("made_by, match", [
    ("PRAGMA user_version = 7", "schema version 7, written by a newer metareg; this one knows versions up to 2"),
    ("CREATE TABLE runs (id INTEGER PRIMARY KEY, distance REAL)", "runs table lacks the columns config_hash, bench"),
    ("CREATE TABLE photos (name TEXT)", "a SQLite database whose tables are photos, with no runs table"),
], ids=["newer-schema", "other-runs-table", "other-tables"])
def test_a_database_this_code_must_not_use_is_refused_and_left_alone(tmp_path, made_by, match):
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        db.execute(made_by)
    before = (tmp_path / "results.sqlite").read_bytes()
    with pytest.raises(StoreError, match=match):
        Store(tmp_path)
    assert (tmp_path / "results.sqlite").read_bytes() == before


def test_an_empty_file_or_an_empty_database_becomes_a_store(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.sqlite").write_bytes(b"")
    with sqlite3.connect(tmp_path / "b.sqlite") as db:
        db.execute("PRAGMA user_version = 0")
        db.execute("VACUUM")
    for where in (tmp_path / "a", tmp_path / "b.sqlite"):
        store = Store(where)
        store.finish(_start(store), status="done", wall_time=0.0)
        assert [r.status for r in store.runs()] == ["done"]


def test_a_store_locked_past_the_timeout_is_a_store_error_naming_it(tmp_path):
    store = Store(tmp_path, timeout=0.2)
    holder = sqlite3.connect(tmp_path / "results.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=r"results.sqlite stayed locked for 0.2 s: another process"):
            _start(store)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.get(_start(store)).status == "running"


def test_a_folder_that_cannot_be_created_names_it_and_the_reason(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match=r"cannot create the results store folder .*file.*file is a file, not a folder"):
        Store(tmp_path / "file" / "store")


def test_a_column_this_metareg_does_not_know_is_not_read_so_a_later_addition_needs_no_version_bump(tmp_path):
    store = Store(tmp_path / "store")
    run_id = store.start(config_hash="h", seed=0, device="cpu", parts={"benchmark": "sinusoid", "backbone": "mlp",
                                                                        "learner": "maml"},
                         config={}, versions={})
    store.finish(run_id, status="done", wall_time=1.0, phases={"train": 1.0})
    with sqlite3.connect(store.path) as db:
        db.execute("ALTER TABLE runs ADD COLUMN from_the_future TEXT")
    [row] = Store(tmp_path / "store").runs()
    assert row.status == "done" and row.phases == {"train": 1.0}
