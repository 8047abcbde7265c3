"""Settings that make a run take seconds, the JSON lines a command prints, and a command SIGKILLed mid-run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time




#: a run small enough for a test: a few outer updates, few test tasks
TINY = ["train.meta_iterations=3", "train.val_every=0", "train.test_tasks=6", "train.eval_batch_size=3"]


TINY_DIGITS = TINY + ["benchmark.digits.image_size=16", "backbone.conv4.channels=4", "train.meta_batch_size=2",
                      "benchmark.digits.n_query=2"]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def sigkill_mid_run(command: list[str], store_dir, timeout: float = 240.0) -> None:
    """Start ``command`` (a ``metareg`` process writing to ``store_dir``) and SIGKILL it once the store holds a
    finished run and a running one, so the kill lands mid-run with something already kept."""
    from metareg.store.database import Store

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    runner = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and runner.poll() is None:
            rows = Store(store_dir).runs() if (store_dir / "results.sqlite").exists() else []
            if any(r.status == "done" for r in rows) and any(r.status == "running" for r in rows):
                break
            time.sleep(0.05)
        assert runner.poll() is None, runner.stderr.read().decode()
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.kill()
        runner.wait()
