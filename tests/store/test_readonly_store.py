"""Reading commands work on a store that cannot be written (a read-only file system, another user's folder, a full
disk); writing commands say that they need write access; one damaged row never makes the rest unreadable."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from metareg.store.database import Store

from helpers.runs import TINY, TINY_DIGITS, json_lines


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A store with a sinusoid run and a digits run (which predict can use), closed cleanly."""
    from metareg.commands.cli import main

    store = tmp_path_factory.mktemp("filled") / "store"
    assert main(["bench", "--store", str(store), "--quiet", "--learner", "maml", *TINY]) == 0
    assert main(["bench", "--store", str(store), "--quiet", "--learner", "protonet", "--benchmark", "digits",
                 *TINY_DIGITS]) == 0
    return store


def _support(tmp_path):
    from PIL import Image

    for c in range(5):  # the run's n_way
        (tmp_path / "support" / str(c)).mkdir(parents=True)
        Image.new("L", (8, 8), 60 * c).save(tmp_path / "support" / str(c) / "x.png")
    return tmp_path / "support"


def test_reading_commands_work_on_a_read_only_store(filled, tmp_path, read_only_view, run_cli):
    copy = tmp_path / "copy"
    shutil.copytree(filled, copy)
    store = read_only_view(copy)
    code, out, err = run_cli("runs", "--store", str(store), "--json")
    assert code == 0 and len(json_lines(out)) == 2, err
    assert run_cli("runs", "show", "1", "--store", str(store))[0] == 0
    code, out, err = run_cli("leaderboard", "--store", str(store))
    assert code == 0 and "maml" in out, err
    support = _support(tmp_path)
    code, out, err = run_cli("predict", "--run", "2", "--store", str(store), "--support", str(support),
                             "--query", str(support / "0"))
    assert code == 0 and "x.png" in out, err
    assert sorted(p.name for p in store.iterdir()) == sorted(p.name for p in filled.iterdir())  # nothing was added


@pytest.mark.parametrize("command", [("bench", "--learner", "maml", "--rerun", *TINY),
                                     ("runs", "prune", "--keep-models", "none")], ids=["bench", "prune"])
def test_a_writing_command_on_a_read_only_store_says_it_needs_write_access(filled, tmp_path, read_only_view,
                                                                          run_cli, command):
    copy = tmp_path / "copy"
    shutil.copytree(filled, copy)
    store = read_only_view(copy)
    code, out, err = run_cli(*command, "--store", str(store))
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "write" in lines[0] and str(store) in lines[0]


def test_one_damaged_row_is_skipped_with_a_warning_and_the_rest_stay_readable(filled, tmp_path, run_cli):
    copy = tmp_path / "copy"
    shutil.copytree(filled, copy)
    with sqlite3.connect(copy / "results.sqlite") as db:
        db.execute("UPDATE runs SET metrics = '{\"accuracy\": ' WHERE id = 2")
    with pytest.warns(RuntimeWarning, match="run 2's metrics is damaged"):
        rows = Store(copy).runs()
    assert [r.id for r in rows] == [1]
    with pytest.warns(RuntimeWarning, match="run 2's metrics is damaged"):
        code, out, err = run_cli("runs", "--store", str(copy), "--json")
    assert code == 0 and [r["run_id"] for r in json_lines(out)] == [1]
    with pytest.warns(RuntimeWarning, match="run 2's metrics is damaged"):
        code, out, err = run_cli("leaderboard", "--store", str(copy))
    assert code == 0 and "maml" in out
    code, out, err = run_cli("runs", "show", "2", "--store", str(copy))
    assert code == 2 and "run 2's metrics is damaged" in err and "Traceback" not in err
