"""The results store: one SQLite file (standard library), one row per run, written in transactions.

A run row is inserted as ``running`` once its parts are built, and updated to ``done`` (with metrics) or ``failed``
(with the error) when it ends, in one transaction each; a run counts as done only once that commit happened.
WAL mode lets several runners share a store.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

DEFAULT_DIR = "metareg-results"
DB_NAME = "results.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    config_hash TEXT NOT NULL,
    benchmark   TEXT NOT NULL,
    backbone    TEXT NOT NULL,
    learner     TEXT NOT NULL,
    adversary   TEXT,
    generator   TEXT,
    seed        INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    error       TEXT,
    device      TEXT,
    wall_time   REAL,
    started_at  REAL NOT NULL,
    finished_at REAL,
    config      TEXT NOT NULL,
    versions    TEXT NOT NULL,
    metrics     TEXT,
    history     TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_hash ON runs (config_hash);
"""


def store_path(path: str | os.PathLike | None = None) -> Path:
    """``--store PATH`` > ``METAREG_STORE`` > ``./metareg-results``; a folder gets ``results.sqlite`` inside it."""
    chosen = Path(path or os.environ.get("METAREG_STORE") or DEFAULT_DIR)
    return chosen if chosen.suffix in (".sqlite", ".db") else chosen / DB_NAME


@dataclass
class RunRow:
    id: int
    config_hash: str
    benchmark: str
    backbone: str
    learner: str
    adversary: str | None
    generator: str | None
    seed: int
    status: str
    error: str | None
    device: str | None
    wall_time: float | None
    started_at: float
    finished_at: float | None
    config: dict
    versions: dict
    metrics: dict | None
    history: list | None


class Store:
    def __init__(self, path: str | os.PathLike | None = None):
        self.path = store_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # WAL is a property of the file, set once; switching to it takes a lock that SQLite's busy handler does not
        # wait for, so a second runner opening a fresh store at the same moment retries instead of failing.
        for attempt in range(100):
            try:
                with closing(self._connect()) as db:
                    db.execute("PRAGMA journal_mode=WAL")
                    with db:
                        db.executescript(SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def start(self, *, config_hash: str, parts: dict[str, str | None], seed: int, device: str, config: dict,
              versions: dict) -> int:
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO runs (config_hash, benchmark, backbone, learner, adversary, generator, seed, status,"
                " device, started_at, config, versions) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (config_hash, parts["benchmark"], parts["backbone"], parts["learner"], parts.get("adversary"),
                 parts.get("generator"), seed, device, time.time(), json.dumps(config, sort_keys=True),
                 json.dumps(versions, sort_keys=True)),
            )
            return int(cur.lastrowid)

    def finish(self, run_id: int, *, status: str, wall_time: float, metrics: dict | None = None,
               history: list | None = None, error: str | None = None) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "UPDATE runs SET status = ?, wall_time = ?, finished_at = ?, metrics = ?, history = ?, error = ?"
                " WHERE id = ?",
                (status, wall_time, time.time(), None if metrics is None else json.dumps(metrics),
                 None if history is None else json.dumps(history), error, run_id),
            )

    def runs(self, status: str | None = None, **where: Any) -> list[RunRow]:
        clauses, args = [], []
        if status:
            clauses.append("status = ?")
            args.append(status)
        for column, value in where.items():
            clauses.append(f"{column} IS ?")
            args.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id"
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            return [self._row(r) for r in db.execute(sql, args)]

    def get(self, run_id: int) -> RunRow:
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run with id {run_id} in {self.path}")
        return self._row(row)

    @staticmethod
    def _row(r: sqlite3.Row) -> RunRow:
        data = dict(r)
        for key in ("config", "versions", "metrics", "history"):
            if data[key] is not None:
                data[key] = json.loads(data[key])
        return RunRow(**data)

    def __iter__(self) -> Iterator[RunRow]:
        return iter(self.runs())
