"""Resume and identity: a finished cell is never repeated, a killed grid redoes only what is missing, a failed cell
is recorded while the grid goes on, and runners sharing a store (threads, processes, worker pools) run each cell once."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from metareg.store.database import STALE_AFTER, Store, is_abandoned

from helpers.runs import TINY, json_lines, sigkill_mid_run

#: runs long enough (~1 s each) that a kill lands mid-run
SLOW = ["train.meta_iterations=150", "train.val_every=0", "train.test_tasks=6", "train.eval_batch_size=3"]
PARTS = {"benchmark": "b", "backbone": "k", "learner": "l"}


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def _bench(store, *args: str) -> list[str]:
    return [sys.executable, "-m", "metareg", "bench", "--store", str(store), "--quiet", *args]


def _claim(store: Store, digest: str, **kw):
    return store.claim(config_hash=digest, parts=PARTS, seed=0, device="cpu", config={}, versions={}, **kw)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _by_hash(store_dir) -> dict[str, list]:
    rows: dict[str, list] = {}
    for row in Store(store_dir).runs():
        rows.setdefault(row.config_hash, []).append(row)
    return rows


def test_a_finished_cell_is_not_run_again_unless_rerun(run_cli, tmp_path):
    grid = ("bench", "--learner", "maml,finetune", "--json", "--quiet", *TINY)
    code, out, _ = run_cli(*grid)
    first = {r["config_hash"]: r["run_id"] for r in json_lines(out)}
    assert code == 0 and len(first) == 2
    code, out, _ = run_cli(*grid)
    again = json_lines(out)
    assert code == 0 and all(r["reused"] for r in again) and {r["config_hash"]: r["run_id"] for r in again} == first
    assert len(Store(tmp_path / "store").runs()) == 2
    code, out, _ = run_cli(*grid, "--rerun")
    assert code == 0 and not any(r.get("reused") for r in json_lines(out))
    assert Counter(r.config_hash for r in Store(tmp_path / "store").runs(status="done")) == {h: 2 for h in first}


def test_a_failed_cell_is_stored_with_its_error_and_the_grid_goes_on(run_cli, tmp_path):
    grid = ("bench", "--learner", "maml,finetune", "--seeds", "0-1", "--json", "--quiet", "learner.maml.inner_lr=1e30",
            *TINY)
    code, out, _ = run_cli(*grid)
    assert code == 1
    status = {(r["parts"]["learner"], r["seed"]): r["status"] for r in json_lines(out)}
    assert status == {("maml", 0): "failed", ("finetune", 0): "done", ("maml", 1): "failed", ("finetune", 1): "done"}
    failed = Store(tmp_path / "store").runs(status="failed")
    assert len(failed) == 2 and all("loss became" in r.error for r in failed)
    code, out, _ = run_cli(*grid)  # failures are results too: not repeated unless asked
    assert code == 1 and len(Store(tmp_path / "store").runs()) == 4
    code, out, _ = run_cli(*grid, "--retry-failed")
    assert code == 1 and len(Store(tmp_path / "store").runs(status="failed")) == 4
    assert len(Store(tmp_path / "store").runs(status="done")) == 2


def test_a_grid_killed_mid_run_redoes_only_the_missing_cells(run_cli, tmp_path):
    store = tmp_path / "store"
    args = ("--learner", "maml", "--seeds", "0-2", *SLOW)
    sigkill_mid_run(_bench(store, *args), store)
    before = Store(store).runs()
    kept = {r.config_hash: r.id for r in before if r.status == "done"}
    assert kept and any(r.status == "running" for r in before)

    code, out, err = run_cli("bench", "--store", str(store), "--quiet", *args)
    assert code == 0, err
    assert "redid 1 run(s) left unfinished by a stopped runner" in out
    rows = _by_hash(store)
    assert len(rows) == 3 and all(len(r) == 1 and r[0].status == "done" for r in rows.values())
    assert all(rows[h][0].id == run_id for h, run_id in kept.items())  # finished cells were not run again


def test_two_runners_on_one_store_run_each_cell_exactly_once(tmp_path):
    store = tmp_path / "store"
    args = ("--learner", "maml,finetune", "--seeds", "0-1", "train.meta_iterations=60", "train.val_every=0",
            "train.test_tasks=6", "train.eval_batch_size=3")
    runners = [subprocess.Popen(_bench(store, *args), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in runners]
    assert [r.returncode for r in runners] == [0, 0], [o[1].decode() for o in outputs]
    rows = _by_hash(store)
    assert len(rows) == 4 and all(len(r) == 1 and r[0].status == "done" for r in rows.values())


def test_concurrent_claims_give_each_cell_to_one_claimant(tmp_path):
    Store(tmp_path)
    won: list[str] = []
    errors: list[Exception] = []

    def claimant():
        try:
            store = Store(tmp_path)
            for i in range(10):
                if _claim(store, f"cell{i}").state == "claimed":
                    won.append(f"cell{i}")
        except Exception as exc:  # a thread's exception would otherwise only be a warning
            errors.append(exc)

    threads = [threading.Thread(target=claimant) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(won) == sorted(f"cell{i}" for i in range(10))


def test_a_claim_of_a_dead_runner_is_redone_and_a_live_one_is_left_alone(tmp_path):
    store = Store(tmp_path)
    host = socket.gethostname()
    dead = _claim(store, "a", owner=f"{host}:{_dead_pid()}")
    assert dead.state == "claimed"
    again = _claim(store, "a")
    assert again.state == "claimed" and again.abandoned == 1
    assert [r.id for r in store.runs()] == [again.run_id]  # the abandoned row is gone
    busy = _claim(store, "a")
    assert busy.state == "busy" and busy.row.id == again.run_id
    store.finish(again.run_id, status="done", wall_time=1.0, metrics={})
    assert _claim(store, "a").state == "done" and _claim(store, "a", rerun=True).state == "claimed"


def test_a_claim_on_another_host_is_abandoned_only_when_its_heartbeat_stops():
    now = time.time()
    assert not is_abandoned("elsewhere:1", now - 1, now)
    assert is_abandoned("elsewhere:1", now - STALE_AFTER - 1, now)
    assert is_abandoned(f"{socket.gethostname()}:{_dead_pid()}", now, now)
    assert not is_abandoned(f"{socket.gethostname()}:{os.getpid()}", now - 10 * STALE_AFTER, now)


CRASHER = '''
import os
import metareg
from metareg_plugins.maml import MAML


class Crasher(MAML):
    """Kills its own process at the first meta-training step, as an out-of-memory kill would."""

    name = "crasher"

    def meta_loss(self, batch):
        os._exit(3)


@metareg.hookimpl
def metareg_register_learners(register):
    register(Crasher)
'''


def test_workers_run_cells_in_processes_and_a_killed_worker_fails_only_its_cell(metareg_plugin_dist, run_cli,
                                                                                tmp_path):
    metareg_plugin_dist("metareg-crasher", {"metareg_crasher": CRASHER}, {"crasher": "metareg_crasher"})
    code, out, err = run_cli("bench", "--learner", "crasher,maml,finetune", "--workers", "2", "--json", "--quiet",
                             *TINY)
    assert code == 1, err
    status = {r["parts"]["learner"]: (r["status"], r["error"]) for r in json_lines(out)}
    assert status["maml"] == ("done", None) and status["finetune"] == ("done", None)
    assert status["crasher"][0] == "failed" and "worker process died (exit code 3)" in status["crasher"][1]
    rows = Store(tmp_path / "store").runs()
    assert Counter(r.status for r in rows) == {"done": 2, "failed": 1}
    assert all(r.device == "cpu" and r.metrics and r.history for r in rows if r.status == "done")


SLEEPER = '''
import os
import time
from pathlib import Path

import metareg
from metareg_plugins.maml import MAML


class Sleeper(MAML):
    """Says it has started meta-training (a marker file), then never finishes: the run is surely mid-way when the
    test interrupts it, whatever the machine's load."""

    name = "sleeper"

    def meta_loss(self, batch):
        Path(os.environ["METAREG_TEST_MARKER"]).touch()
        while True:
            time.sleep(0.05)


@metareg.hookimpl
def metareg_register_learners(register):
    register(Sleeper)
'''


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs POSIX signals")
def test_an_interrupted_runner_releases_its_claims(metareg_plugin_dist, tmp_path):
    """The interrupt always lands mid-run: the learner blocks once it has started, so the runner cannot finish
    first (the earlier version of this test raced a 150-update run and sometimes lost: exit 0)."""
    metareg_plugin_dist("metareg-sleeper", {"metareg_sleeper": SLEEPER}, {"sleeper": "metareg_sleeper"})
    store, marker = tmp_path / "store", tmp_path / "started"
    # A shell without job control starts background jobs with SIGINT ignored, and a child inherits that: Python
    # then installs no KeyboardInterrupt handler and the interrupt below would be lost. So the child gets the default.
    runner = subprocess.Popen(_bench(store, "--learner", "sleeper", "--seeds", "0-2", *SLOW),
                              env=dict(_env(), METAREG_TEST_MARKER=str(marker)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and runner.poll() is None and not marker.exists():
        time.sleep(0.05)
    assert marker.exists(), f"the run never started (runner exit code {runner.poll()})"
    assert [r.status for r in Store(store).runs()] == ["running"]
    runner.send_signal(signal.SIGINT)
    assert runner.wait(timeout=120) != 0
    assert Store(store).runs(status="running") == []


def test_a_store_made_before_claims_existed_gains_their_columns(tmp_path):
    import sqlite3

    from metareg.store.schema import SCHEMA

    old_schema = SCHEMA.replace(",\n    owner       TEXT,\n    heartbeat_at REAL", "")
    assert "owner" not in old_schema
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        db.executescript(old_schema)
        db.execute("INSERT INTO runs (config_hash, benchmark, backbone, learner, seed, status, started_at, config,"
                   " versions) VALUES ('old', 'b', 'k', 'l', 0, 'done', 0, '{}', '{}')")
    store = Store(tmp_path)
    [row] = store.runs()
    assert row.config_hash == "old" and row.owner is None
    assert _claim(store, "old").state == "done" and _claim(store, "new").state == "claimed"
