"""What can go wrong with the results store's file and folder, said as a ``StoreError`` that names the path.

Why a module of its own: SQLite reports a locked file, a read-only folder and a damaged file as exceptions whose
messages ("database is locked", "unable to open database file") name neither the file nor the fix, and the
``OSError`` of a folder that cannot be created is raised deep in ``pathlib``. Every store operation runs inside
:func:`sqlite_errors`, so a user sees one line naming the store and what to do, never a traceback; an SQLite error
that is none of these is left as it is, since it would be a bug in metareg.
"""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from metareg.errors import StoreError

#: where to point instead, said after every store error
ELSEWHERE = "point --store (or METAREG_STORE) at another folder"
#: said where writing failed: reading needs no write access
READS_STILL_WORK = ("reading commands (`metareg runs`, `metareg leaderboard`, `metareg predict`) work on it as it "
                    "is; `metareg bench` needs to write it")


def make_folder(folder: Path) -> None:
    """Create the store's folder (and its parents), or a ``StoreError`` naming it and the OS's reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker else (exc.strerror or str(exc))
        raise StoreError(f"cannot create the results store folder {folder}: {why}; {ELSEWHERE}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write to the results store folder {folder}: permission denied; "
                         f"{READS_STILL_WORK}; make it writable, or {ELSEWHERE}")


def _unopenable(path: Path) -> str:
    """Why SQLite could not open ``path``: what the file system says about it and its folder."""
    if path.is_dir():
        return f"{path} is a folder, not a file"
    folder = path.parent
    if not folder.is_dir():
        return f"its folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "the file is not readable and writable by this user"
    return "the file cannot be opened"


@contextmanager
def sqlite_errors(path: Path, timeout: float) -> Iterator[None]:
    """Turn the SQLite errors a user can cause or fix into ``StoreError``s about ``path``.

    ``timeout`` is how long SQLite waited on a lock before giving up, for the message.
    """
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise StoreError(
                f"results store {path} stayed locked for {timeout:g} s: another process is writing to it (a "
                f"`metareg bench` on the same store?); wait for it to finish, or {ELSEWHERE}") from None
        if "unable to open" in text:
            raise StoreError(f"cannot open results store {path}: {_unopenable(path)}; {ELSEWHERE}") from None
        if "readonly" in text or "read-only" in text:
            raise StoreError(f"cannot write to results store {path}: the file or its folder is read-only; "
                             f"{READS_STILL_WORK}; make it writable, or {ELSEWHERE}") from None
        if "disk i/o" in text or "full" in text:
            raise StoreError(f"results store {path}: {exc} (is the disk full or gone?); {ELSEWHERE}") from None
        raise
    except sqlite3.DatabaseError as exc:
        if type(exc) is not sqlite3.DatabaseError:  # IntegrityError, ProgrammingError, ...: metareg's own mistakes
            raise
        # "file is not a database", "database disk image is malformed": the file itself is wrong
        raise StoreError(f"results store {path} is damaged or not a metareg results store ({exc}); move it aside "
                         f"and run again, or {ELSEWHERE}") from None
