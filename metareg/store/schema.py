"""The store's schema, its version, and opening a file as a store: checked first, written only once it passes.

Why check before writing: SQLite's first write to a file that is not a database fails, but a file that *is* one (a
user's other database, a store of a newer metareg) would be given WAL mode, a ``runs`` table and added columns,
silently. So an existing file is inspected read-only first; only a file that is empty, a SQLite database with no
tables yet, or a metareg store of this or an older schema is then prepared (WAL, schema, added columns, version).

Versions: ``PRAGMA user_version`` holds ``SCHEMA_VERSION``. Stores written before it existed read 0 and are
migrated as they always were (the ``ADDED_COLUMNS`` they lack); a version above ``SCHEMA_VERSION`` was written by
a newer metareg, whose rows this code could misread, and is refused with the version named.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

from metareg.errors import StoreError
from metareg.store.errors import ELSEWHERE
from metareg.store.readonly import connect_read_only

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
    history     TEXT,
    owner       TEXT,
    heartbeat_at REAL,
    phases      TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_hash ON runs (config_hash);
CREATE TABLE IF NOT EXISTS study_runs (
    study       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('trial', 'tuned', 'default')),
    number      INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    params      TEXT NOT NULL,
    spec        TEXT NOT NULL,
    PRIMARY KEY (study, role, number)
);
"""

#: columns added after the first release, with their types: an older store gains them when opened
ADDED_COLUMNS = {"owner": "TEXT", "heartbeat_at": "REAL", "phases": "TEXT"}

#: the schema this code writes (``PRAGMA user_version``); bump it with any change an older metareg would misread.
#: 2: the ``phases`` column, which a metareg of version 1 cannot read (it builds its rows from every column, so an
#: unknown one stopped it with a TypeError); since 2 a row is built from the columns this code knows
#: (``Store._row``), so a later added column needs no bump
SCHEMA_VERSION = 2

#: the first bytes of every SQLite 3 database file
SQLITE_HEADER = b"SQLite format 3\x00"


def _schema_columns() -> list[str]:
    with closing(sqlite3.connect(":memory:")) as db:
        db.executescript(SCHEMA)
        return [r[1] for r in db.execute("PRAGMA table_info(runs)")]


#: what a ``runs`` table must have to be a metareg store's (of any schema version)
REQUIRED_COLUMNS = tuple(c for c in _schema_columns() if c not in ADDED_COLUMNS)


def _not_a_store(path: Path, why: str) -> StoreError:
    return StoreError(f"{path} is not a metareg results store ({why}); it was left untouched: move it aside, or "
                      f"{ELSEWHERE}")


def check_file(path: Path, timeout: float) -> None:
    """A ``StoreError`` unless ``path`` is absent, empty, or a SQLite database this code may use as a store.

    Reads only: the header bytes, then (through a read-only connection) the version and the tables.
    """
    if not path.exists():
        return
    if path.is_dir():
        raise StoreError(f"results store {path} is a folder, not a file; {ELSEWHERE}")
    try:
        with open(path, "rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read results store {path}: {exc.strerror or exc}; {ELSEWHERE}") from None
    if not header:
        return  # an empty file is an empty database
    if header != SQLITE_HEADER:
        raise _not_a_store(path, "it is not a SQLite database")
    with closing(connect_read_only(path, timeout)) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
    if version > SCHEMA_VERSION:
        raise StoreError(f"results store {path} has schema version {version}, written by a newer metareg; this one "
                         f"knows versions up to {SCHEMA_VERSION}: upgrade metareg (pip install -U metareg), or "
                         f"{ELSEWHERE}")
    if not tables:
        return  # a database with nothing in it yet (another runner may be creating this very store)
    if "runs" not in tables:
        raise _not_a_store(path, f"a SQLite database whose tables are {', '.join(sorted(tables))}, with no runs "
                                 f"table")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise _not_a_store(path, f"its runs table lacks the columns {', '.join(missing)}")


def prepare(path: Path, timeout: float) -> None:
    """Give a checked store WAL mode, the schema, the columns it lacks and this schema's version.

    WAL is a property of the file, set once; switching to it takes a lock that SQLite's busy handler does not wait
    for, so a second runner opening a fresh store at the same moment retries (up to ``timeout``) instead of failing.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with closing(sqlite3.connect(path, timeout=timeout)) as db:
                db.execute("PRAGMA journal_mode=WAL")
                with db:
                    db.executescript(SCHEMA)
                    have = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
                    for column, kind in ADDED_COLUMNS.items():
                        if column not in have:
                            db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
                    if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
