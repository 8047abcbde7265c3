"""Ctrl-C and SIGTERM lose nothing: a run that finished is committed whatever signal arrives when, the claims of
runs that did not finish are released, and the command ends with one line (what stopped, what is kept, how to
resume), exit 130 or 143.

Each interrupt lands at a chosen moment, not after a guessed delay: the plugins below block at a marked point (a
run in meta-training, or a finished run whose model is being saved) until the test has sent its signal.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from metareg.run.deferred_signals import deferred_signals
from metareg.run.files import model_path
from metareg.store.database import Store

from helpers.runs import TINY

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

GATED = '''
import os
import sys
import time
from pathlib import Path

import metareg
from metareg_plugins.maml import MAML


def _gate(kind):
    """Mark that this process reached ``kind``, then wait for the test's go-ahead (at most a minute)."""
    folder = Path(os.environ["METAREG_TEST_GATE"])
    (folder / f"{kind}-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not (folder / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


class SlowSave(MAML):
    """A run that finishes, then takes its time handing over its weights for the model file: the moment at which
    an interrupt used to lose a finished run."""

    name = "slowsave"

    def state_dict(self, *args, **kwargs):
        if sys._getframe(1).f_code.co_name == "model_state":
            _gate("saving")
        return super().state_dict(*args, **kwargs)


class Stuck(MAML):
    """A run that stays in meta-training until it is interrupted."""

    name = "stuck"

    def meta_loss(self, batch):
        _gate("training")
        while True:
            time.sleep(0.05)


@metareg.hookimpl
def metareg_register_learners(register):
    register(SlowSave)
    register(Stuck)
'''


@pytest.fixture
def gated(metareg_plugin_dist, tmp_path):
    metareg_plugin_dist("metareg-gated", {"metareg_gated": GATED}, {"gated": "metareg_gated"})
    gate = tmp_path / "gate"
    gate.mkdir()
    return gate


def _start(store: Path, gate: Path, *args: str) -> subprocess.Popen:
    """``metareg bench`` in its own process group (a signal to it reaches the parent alone), SIGINT at its
    default (a shell without job control would start it ignored)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", METAREG_TEST_GATE=str(gate))
    return subprocess.Popen([sys.executable, "-m", "metareg", "bench", "--store", str(store), "--quiet", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(gate: Path, kind: str, count: int, runner: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    while len(list(gate.glob(f"{kind}-*"))) < count:
        assert runner.poll() is None, f"the runner ended first (exit {runner.returncode}): {runner.stderr.read()}"
        assert time.monotonic() < deadline, f"{count} processes never reached {kind!r}"
        time.sleep(0.05)


def _finish(runner: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = runner.communicate(timeout=180)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    return runner.returncode, err


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


def test_runs_finishing_while_workers_stop_are_committed_and_nothing_else_is_left(gated, tmp_path):
    """SIGINT to the runner alone while both workers hold a finished run they have not committed yet: both are
    committed, with their model files; no row is left running and no model without its row."""
    store = tmp_path / "store"
    runner = _start(store, gated, "--learner", "slowsave", "--seeds", "0-1", "--workers", "2", *TINY)
    _wait_for(gated, "saving", 2, runner)
    runner.send_signal(signal.SIGINT)
    time.sleep(1.0)  # the runner is stopping its workers by now; they still hold their finished runs
    (gated / "go").touch()
    code, err = _finish(runner)
    assert code == 130, err
    line = _one_line(err)
    assert "interrupted by Ctrl-C (SIGINT): 2 of 2 run(s) are stored" in line and "run the same command" in line
    rows = Store(store).runs()
    assert Counter(r.status for r in rows) == {"done": 2}
    files = Store(store).files_dir
    assert sorted((files / "models").iterdir()) == sorted(model_path(files, r.id) for r in rows)
    assert not list(files.rglob("*.tmp"))


@pytest.mark.parametrize("signals, code, words", [
    ((signal.SIGINT,), 130, "Ctrl-C (SIGINT)"),
    ((signal.SIGINT, signal.SIGINT), 130, "Ctrl-C (SIGINT)"),
    ((signal.SIGTERM,), 143, "SIGTERM"),
], ids=["sigint", "sigint-twice", "sigterm"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_interrupt_mid_run_releases_the_claims_and_says_so_in_one_line(gated, tmp_path, signals, code, words,
                                                                         workers):
    store = tmp_path / "store"
    runner = _start(store, gated, "--learner", "stuck", "--seeds", "0-1", "--workers", workers, *TINY)
    _wait_for(gated, "training", int(workers), runner)
    for sig in signals:
        runner.send_signal(sig)
        time.sleep(0.2)
    returncode, err = _finish(runner)
    assert returncode == code, err
    line = _one_line(err)
    assert f"interrupted by {words}: 0 of 2 run(s) are stored" in line and "unfinished run(s) stopped" in line
    assert Store(store).runs() == []  # every claim released: the next run of the command runs them


def test_an_interrupt_before_any_run_says_nothing_was_lost(run_cli, monkeypatch):
    from metareg.commands import bench

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "load_registry", interrupted)
    code, out, err = run_cli("bench", "--learner", "maml", *TINY)
    assert code == 130
    assert _one_line(err).startswith("metareg: interrupted by Ctrl-C (SIGINT) during `metareg bench`: nothing")


def test_a_signal_inside_deferred_signals_is_delivered_when_the_block_ends():
    # Python's own Ctrl-C handler, whatever this process inherited: a shell starts a background job with SIGINT
    # ignored, and then Python installs no handler, so a redelivered SIGINT would raise nothing
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        reached = []
        with pytest.raises(KeyboardInterrupt):
            with deferred_signals():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                reached.append("the block ran to its end")
            time.sleep(1)  # the signal lands here, not later
        assert reached == ["the block ran to its end"]
        with deferred_signals(redeliver=False):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        time.sleep(0.05)  # dropped: nothing is raised
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)
