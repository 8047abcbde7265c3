"""Files written whole or not at all: to a temporary file in the same folder, then renamed over the target.

Why: a report, a prediction file, a model or a checkpoint cut short by a full disk, a kill or Ctrl-C must never be
left under its real name (a truncated ``leaderboard.html``, a 0-byte CSV, half a model). ``os.replace`` within one
folder is atomic on POSIX and Windows, so a reader sees the old file or the new one; the temporary file is removed
when the write fails, so a failure leaves nothing behind either.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """A file handle whose contents replace ``path`` when the block ends without an exception (``mode`` is
    ``"w"`` or ``"wb"``; ``open_kwargs`` go to ``open``, e.g. ``newline=""`` for csv).

    A symbolic link is written through (its target is replaced, the link stays), and something that is not a
    regular file (``/dev/stdout``, a named pipe, ``/dev/full``) is written into as it is: a rename would put a file
    in its place.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file writes a whole file: mode 'w' or 'wb', not {mode!r}")
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    path = Path(path)
    if path.exists() and not path.is_file():
        with open(path, mode, **open_kwargs) as handle:
            yield handle
        return
    path = path.resolve() if path.is_symlink() else path
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` whole or not at all; ``path``."""
    with atomic_file(path, "wb" if isinstance(data, bytes) else "w") as handle:
        handle.write(data)
    return Path(path)


def _umask() -> int:
    """The process's umask (read by setting it, so put straight back): mkstemp makes files 0600, and a report or
    model should get the permissions any other file would."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
