"""Opening a results store to read it only, wherever it lies: a read-only file system, another user's folder, a
full disk.

Why a fallback: ``mode=ro`` reads a store as SQLite always does, its write-ahead log included, but even a reader of
a WAL database must create the ``-shm`` index beside it, and on a folder it cannot write, or a disk with no space,
that fails ("attempt to write a readonly database", "disk I/O error"). ``immutable=1`` then reads the database file
alone, which holds every committed run unless a writer died and left a ``-wal`` file with runs not yet copied back;
that case is said in a warning rather than hidden.
"""
from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from urllib.parse import quote


def connect_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection that can only read ``path``; the last ``sqlite3.OperationalError`` if no way works."""
    where = quote(str(path.resolve()))
    try:
        return _checked(sqlite3.connect(f"file:{where}?mode=ro", uri=True, timeout=timeout))
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise  # a writer holds it: waiting is the answer, not reading around it
    db = _checked(sqlite3.connect(f"file:{where}?immutable=1", uri=True, timeout=timeout))
    wal = path.with_name(path.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        warnings.warn(f"metareg: {path} was read without its write-ahead log {wal.name}, since its folder cannot be "
                      f"written: the runs committed last may be missing until a writable run of metareg opens it",
                      RuntimeWarning, stacklevel=3)
    return db


def _checked(db: sqlite3.Connection) -> sqlite3.Connection:
    """``db``, once a first read succeeded (SQLite opens lazily, so a failure shows only at the first statement)."""
    try:
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except BaseException:
        db.close()
        raise
    return db
