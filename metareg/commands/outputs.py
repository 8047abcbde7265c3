"""Where ``--out`` writes: the folder or file checked before any work is done, and each file written whole.

Why: ``leaderboard --out`` and ``predict --out`` name a place the user typed, so a typo, a file where a folder is
meant (or the reverse), or a folder they cannot write is theirs to fix, and must be one line naming the path and
the fix, not an ``OSError`` from deep in a write. The checks run before the board is built or a model is loaded, so
the mistake costs nothing; the writes go through ``metareg.toolkit.atomic``, so a full disk or a kill leaves the old
file (or none), never a truncated report or a 0-byte CSV.
"""
from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from metareg.errors import ConfigError
from metareg.toolkit.atomic import atomic_file


class OutputError(ConfigError):
    """An ``--out`` path that cannot be written: the message names the path, the reason and the fix."""


def out_folder(text: str, option: str = "--out") -> Path:
    """The folder ``text``, created (with its parents) when missing; an ``OutputError`` when a file is in the way
    or it cannot be created."""
    folder = Path(text)
    for above in (folder, *folder.parents):
        if above.exists() and not above.is_dir():
            what = f"{option} {text!r}" if above == folder else f"{option} {text!r} is under {str(above)!r}, which"
            kind = "a file, not a folder" if above.is_file() else "not a folder"
            raise OutputError(f"{what} is {kind}; give a folder (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{option} {text!r}: cannot create the folder ({_reason(exc)}); give a folder you can "
                          f"write to") from None
    return folder


def out_file(text: str, option: str = "--out", example: str = "predictions.csv") -> Path:
    """The file ``text``, checked before any work: its folder must exist, and it must not be a folder itself."""
    path = Path(text)
    if path.is_dir():
        raise OutputError(f"{option} {text!r} is a folder, not a file; give a file path, e.g. "
                          f"{str(path / example)!r}")
    folder = path.parent
    if not folder.exists():
        raise OutputError(f"{option} {text!r}: the folder {str(folder)!r} does not exist; create it first "
                          f"(mkdir -p {folder}) or give a path in an existing folder")
    if not folder.is_dir():
        raise OutputError(f"{option} {text!r}: {str(folder)!r} is a file, not a folder; give a path in a folder")
    return path


@contextmanager
def written(path: Path, option: str = "--out", mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """A handle on ``path`` whose contents replace it whole when the block ends (``atomic_file``); a failed write
    is an ``OutputError`` naming the path, and leaves the old file as it was and no temporary file behind (a link
    is written through, and a device or pipe written into: see ``atomic_file``).
    """
    try:
        with atomic_file(path, mode, **open_kwargs) as handle:
            yield handle
    except OSError as exc:
        raise OutputError(f"{option}: cannot write {str(path)!r} ({_reason(exc)}); {_fix(exc, path, option)}") \
            from None


def write_output(path: Path, data: str | bytes, option: str = "--out") -> Path:
    """``data`` written to ``path`` whole or not at all (see ``written``); ``path``."""
    with written(path, option, "wb" if isinstance(data, bytes) else "w") as handle:
        handle.write(data)
    return path


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _fix(exc: OSError, path: Path, option: str) -> str:
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return "free some space and run it again (any file already there was left as it was)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"choose a place you can write to, or get write access to {str(path.parent)!r}"
    if exc.errno == errno.EISDIR:
        return f"a folder has that name: remove or rename it, or choose another {option}"
    return "choose another place to write to"
