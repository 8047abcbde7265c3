"""Reports and predictions are written whole or not at all: a write that fails half-way (a full disk, here injected
as ``OSError(ENOSPC)``) leaves the old file byte for byte and no temporary file beside it, and says so in one line.

``metareg.toolkit.atomic`` writes to a temporary file in the same folder and renames it over the target;
``metareg.commands.outputs`` maps a failed write to an ``OutputError`` naming the path and the fix, writes through a
symbolic link, and writes into what is not a regular file (a named pipe, ``/dev/stdout``) rather than replacing it.
"""
from __future__ import annotations

import csv
import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from metareg.commands.outputs import OutputError, out_file, out_folder, write_output, written
from metareg.store.database import Store
from metareg.toolkit.atomic import atomic_file, write_atomic

from helpers.disks import full_disk_after

OLD = b"# the report as it was\n"


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "leaderboard.html"
    target.write_bytes(OLD)
    full_disk_after(monkeypatch, after=10)
    with pytest.raises(OSError) as caught:
        write_atomic(target, "<html>" + "x" * 100_000)
    assert caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == OLD and _listing(tmp_path) == ["leaderboard.html"]


def test_a_whole_write_replaces_the_file_with_ordinary_permissions(tmp_path):
    target = tmp_path / "leaderboard.csv"
    target.write_bytes(OLD)
    write_atomic(target, b"a,b\n1,2\n")
    assert target.read_bytes() == b"a,b\n1,2\n" and _listing(tmp_path) == ["leaderboard.csv"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600


def test_an_exception_inside_the_block_writes_nothing(tmp_path):
    target = tmp_path / "labels.csv"
    target.write_bytes(OLD)
    with pytest.raises(ZeroDivisionError):
        with atomic_file(target, "w", newline="") as handle:
            csv.writer(handle).writerow(["file", "predicted"])
            1 / 0
    assert target.read_bytes() == OLD and _listing(tmp_path) == ["labels.csv"]


def test_the_leaderboard_on_a_full_disk_keeps_its_old_report_and_says_so(run_cli, tmp_path, monkeypatch):
    Store(tmp_path / "store")
    report = tmp_path / "report"
    report.mkdir()
    for name in ("leaderboard.md", "leaderboard.csv"):
        (report / name).write_bytes(OLD)
    full_disk_after(monkeypatch)
    code, out, err = run_cli("leaderboard", "--format", "md,csv", "--out", str(report))
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert (f"--out: cannot write '{report / 'leaderboard.md'}' (No space left on device); free some space and run "
            f"it again") in err
    assert [(report / n).read_bytes() for n in _listing(report)] == [OLD, OLD]
    assert _listing(report) == ["leaderboard.csv", "leaderboard.md"]


def test_the_leaderboard_writes_every_format_whole(run_cli, tmp_path):
    Store(tmp_path / "store")
    code, out, err = run_cli("leaderboard", "--format", "md,html,csv,json", "--out", str(tmp_path / "new" / "report"))
    assert code == 0, err
    assert _listing(tmp_path / "new" / "report") == ["leaderboard.csv", "leaderboard.html", "leaderboard.json",
                                                     "leaderboard.md"]
    assert out.split() == [str(tmp_path / "new" / "report" / f"leaderboard.{e}") for e in ("md", "html", "csv", "json")]


def test_predictions_cut_short_by_a_full_disk_leave_no_zero_byte_csv(tmp_path, monkeypatch):
    target = out_file(str(tmp_path / "labels.csv"))
    full_disk_after(monkeypatch, after=30)
    with pytest.raises(OutputError, match="cannot write .*labels.csv' \\(No space left on device\\)"):
        with written(target, newline="") as handle:
            writer = csv.writer(handle)
            for i in range(1000):
                writer.writerow([f"query/{i}.png", "c0", "0.5", "0.5"])
    assert _listing(tmp_path) == []


def test_an_unwritable_folder_is_one_line_naming_it_and_the_fix(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr("metareg.toolkit.atomic.tempfile.mkstemp", refused)
    with pytest.raises(OutputError) as caught:
        write_output(tmp_path / "leaderboard.md", "# board\n")
    assert str(caught.value) == (f"--out: cannot write '{tmp_path / 'leaderboard.md'}' (Permission denied); choose a "
                                 f"place you can write to, or get write access to '{tmp_path}'")


def test_out_paths_are_checked_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        out_folder(str(tmp_path / "afile"))
    with pytest.raises(OutputError, match="is a folder, not a file"):
        out_file(str(tmp_path))
    with pytest.raises(OutputError, match="does not exist; create it first"):
        out_file(str(tmp_path / "missing" / "labels.csv"))
    assert out_folder(str(tmp_path / "a" / "b")).is_dir()


def test_a_symbolic_link_is_written_through(tmp_path):
    real = tmp_path / "real.csv"
    real.write_bytes(OLD)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_output(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_a_named_pipe_is_written_into_not_replaced(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_text()))
    reader.start()
    write_output(pipe, "labels\n")
    reader.join(timeout=10)
    assert got == ["labels\n"] and stat.S_ISFIFO(pipe.stat().st_mode)
