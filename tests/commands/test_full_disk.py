"""A full disk corrupts nothing and leaves nothing behind: no temporary file, no model without its run, no row
left ``running``, no truncated report, and the store stays readable. On a real, tiny file system (a tmpfs)."""
from __future__ import annotations

import errno
import os

from metareg.run.files import model_path
from metareg.store.database import Store

from helpers.runs import TINY


def _fill(folder) -> None:
    """Write into ``folder`` until its file system has no byte left."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def _leftovers(folder) -> list:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_a_full_disk_leaves_a_readable_store_and_nothing_half_written(tiny_disk, run_cli):
    disk = tiny_disk(8 * 1024)
    store = disk / "store"
    code, out, err = run_cli("bench", "--store", str(store), "--quiet", "--learner", "maml", *TINY)
    assert code == 0, err
    report = disk / "report"
    assert run_cli("leaderboard", "--store", str(store), "--format", "csv", "--out", str(report))[0] == 0
    before = (report / "leaderboard.csv").read_bytes() if report.is_dir() else report.read_bytes()
    _fill(disk)

    code, out, err = run_cli("bench", "--store", str(store), "--quiet", "--learner", "finetune,reptile", *TINY)
    assert code != 0 and "Traceback" not in err and "internal error" not in err, err
    rows = Store(store, readonly=True).runs()
    assert not [r for r in rows if r.status == "running"]
    files = Store(store, readonly=True).files_dir
    done = {model_path(files, r.id) for r in rows if r.status == "done"}
    assert set((files / "models").glob("*.pt")) <= done  # no model without its run
    assert not _leftovers(disk)

    code, out, err = run_cli("runs", "--store", str(store))
    assert code == 0 and "maml" in out, err
    code, out, err = run_cli("leaderboard", "--store", str(store), "--format", "csv", "--out", str(report))
    assert code == 2 and "Traceback" not in err, err
    after = (report / "leaderboard.csv").read_bytes() if report.is_dir() else report.read_bytes()
    assert after == before and not _leftovers(disk)  # the old report is whole, nothing half-written beside it
