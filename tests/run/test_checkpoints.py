"""Mid-run checkpoints: a run killed with SIGKILL resumes when its grid runs again and ends, on the CPU with the
same seed, with exactly the metrics and history of an uninterrupted run; a corrupt checkpoint is never loaded."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from metareg.run.files import checkpoint_path
from metareg.store.database import Store

ARGS = ["--learner", "maml", "--benchmark", "sinusoid", "train.meta_iterations=200", "train.val_every=50",
        "train.val_tasks=20", "train.test_tasks=40", "train.checkpoint_every=50", "train.meta_batch_size=8"]

#: an observer that kills its own process with SIGKILL when update KILL_AT is logged, once (a marker file says
#: it did): the checkpoint of that update is not written yet, so the run resumes from the one before
KILLER = '''
import os
import signal
from pathlib import Path

import metareg


@metareg.hookimpl
def metareg_iteration_logged(config, entry, run_hash):
    with open(os.environ["METAREG_TEST_LOG"], "a") as log:
        log.write(f"{os.getpid()} {entry['iteration']}\\n")
    marker = Path(os.environ["METAREG_TEST_MARKER"])
    if entry["iteration"] == int(os.environ["METAREG_TEST_KILL_AT"]) and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
'''


def _bench(store, env, *extra):
    return subprocess.run([sys.executable, "-m", "metareg", "bench", "--store", str(store), "--quiet", "--json",
                           *ARGS, *extra], env=env, capture_output=True, text=True, timeout=600)


def _env(**extra):
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_run_killed_mid_way_resumes_and_ends_exactly_as_an_uninterrupted_one(metareg_plugin_dist, tmp_path):
    metareg_plugin_dist("metareg-killer", {"metareg_killer": KILLER}, {"killer": "metareg_killer"})
    marker, log = tmp_path / "killed", tmp_path / "logged.txt"
    env = _env(METAREG_TEST_MARKER=str(marker), METAREG_TEST_KILL_AT="100", METAREG_TEST_LOG=str(log))
    killed = _bench(tmp_path / "a", env)
    assert killed.returncode == -signal.SIGKILL and marker.exists(), killed.stderr[-2000:]
    (row,) = Store(tmp_path / "a").runs()
    assert row.status == "running"
    assert checkpoint_path(tmp_path / "a", row.config_hash).is_file()  # the one at update 50
    resumed = _bench(tmp_path / "a", env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    first, second = {}, {}
    for line in log.read_text().splitlines():
        pid, iteration = line.split()
        (first if not first or pid in first else second).setdefault(pid, []).append(int(iteration))
    assert list(first.values()) == [[50, 100]]  # killed when update 100 was logged, before its checkpoint
    assert list(second.values()) == [[100, 150, 200]]  # resumed after update 50: it never ran updates 1-50 again
    plain = _bench(tmp_path / "b", _env(METAREG_TEST_MARKER=str(tmp_path / "never"), METAREG_TEST_KILL_AT="-1",
                                        METAREG_TEST_LOG=str(tmp_path / "plain.txt")))
    assert plain.returncode == 0, plain.stderr[-2000:]
    (done,) = Store(tmp_path / "a").runs(status="done")
    (reference,) = Store(tmp_path / "b").runs()
    assert done.metrics == reference.metrics  # to the last digit
    assert done.history == reference.history
    assert not checkpoint_path(tmp_path / "a", done.config_hash).exists()  # removed once the run had its outcome


def _run(tmp_path, *settings):
    from metareg.run.config import resolve
    from metareg.run.engine import Run
    from metareg.host.registry import Registry

    registry = Registry.load(warn=False)
    overrides = [tuple(a.split("=", 1)) for a in ARGS if "=" in a] + list(settings)
    parsed = [(k, int(v) if str(v).lstrip("-").isdigit() else v) for k, v in overrides]
    cfg, selection = resolve(registry, parsed, {"learner": "maml", "benchmark": "sinusoid"})
    return Run(cfg, selection, registry)


def test_a_corrupt_checkpoint_is_ignored_with_a_warning_and_never_loaded(tmp_path):
    run = _run(tmp_path)
    path = checkpoint_path(tmp_path, run.hash)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 half a zip")
    with pytest.warns(RuntimeWarning, match="checkpoint .* ignored: it cannot be read"):
        result = run.execute(progress=False, store=Store(tmp_path))
    reference = _run(tmp_path).execute(progress=False)
    assert result.status == "done" and result.metrics == reference.metrics
    assert not path.exists()


@pytest.mark.parametrize("content", [b"", b"\x00" * 64, b"not a checkpoint at all"], ids=["empty", "zeros", "text"])
def test_an_unreadable_checkpoint_means_a_warning_and_a_fresh_start(tmp_path, content):
    """A 0-byte file (a disk that filled while it was written) used to fail the run with an IndexError."""
    run = _run(tmp_path)
    path = checkpoint_path(tmp_path, run.hash)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.warns(RuntimeWarning, match="checkpoint .* ignored: it cannot be read"):
        result = run.execute(progress=False, store=Store(tmp_path))
    assert result.status == "done" and result.metrics == _run(tmp_path).execute(progress=False).metrics


def test_a_checkpoint_that_cannot_be_applied_is_undone_and_the_run_starts_afresh(tmp_path):
    """A readable checkpoint of this run whose weights do not fit (a damaged entry) leaves no trace in the run."""
    import torch

    from metareg.run import checkpoints

    run = _run(tmp_path)
    path = checkpoint_path(tmp_path, run.hash)
    checkpoints.save(path, {"config_hash": run.hash, "iteration": 50, "learner": {"bogus": torch.zeros(1)},
                            "optimiser": {}, "history": [{"iteration": 50}], "rng": {}, "best_score": 0.0,
                            "best_state": None, "chunk": None, "resolved": {}})
    with pytest.warns(RuntimeWarning, match="ignored: it could not be applied"):
        result = run.execute(progress=False, store=Store(tmp_path))
    reference = _run(tmp_path).execute(progress=False)
    assert result.status == "done" and result.metrics == reference.metrics and result.history == reference.history


def test_a_checkpoint_of_another_run_is_not_loaded(tmp_path):
    import torch

    from metareg.run import checkpoints

    path = tmp_path / "c.pt"
    checkpoints.save(path, {"config_hash": "other", "iteration": 1})
    with pytest.warns(RuntimeWarning, match="belongs to run 'other'"):
        assert checkpoints.load(path, "mine", torch.device("cpu")) is None


def test_checkpoint_every_must_be_a_multiple_of_the_logging_interval(tmp_path):
    from metareg.errors import ConfigError

    with pytest.raises(ConfigError, match="train.checkpoint_every must be at least 0 and a multiple of 50, got 70"):
        _run(tmp_path, ("train.checkpoint_every", 70))
