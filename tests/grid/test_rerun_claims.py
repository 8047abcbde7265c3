"""A forced rerun is still claimed once: runners started together with ``--rerun`` share it, each cell run once."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

from metareg.store.database import Store, process_started_at

from helpers.runs import json_lines

PARTS = {"benchmark": "b", "backbone": "k", "learner": "l"}


def _claim(store: Store, digest: str, **kw):
    return store.claim(config_hash=digest, parts=PARTS, seed=0, device="cpu", config={}, versions={}, **kw)


def test_a_rerun_redoes_runs_started_before_it_and_reuses_those_started_since(tmp_path):
    store = Store(tmp_path)
    old = _claim(store, "a")
    store.finish(old.run_id, status="done", wall_time=1.0, metrics={})
    since = time.time() + 1e-3
    time.sleep(0.01)
    first = _claim(store, "a", rerun=True, rerun_before=since)
    assert first.state == "claimed"  # the run from before the rerun is redone
    store.finish(first.run_id, status="done", wall_time=1.0, metrics={})
    again = _claim(store, "a", rerun=True, rerun_before=since)
    assert again.state == "done" and again.row.id == first.run_id  # another runner of the same rerun did it
    assert _claim(store, "a", rerun=True).state == "claimed"  # no boundary: every finished run is redone


def test_two_runners_started_together_with_rerun_run_each_cell_once(run_cli, tmp_path):
    store = tmp_path / "store"
    grid = ("--learner", "maml,finetune", "--seeds", "0-1", "train.meta_iterations=60", "train.val_every=0",
            "train.test_tasks=6", "train.eval_batch_size=3")
    code, out, err = run_cli("bench", "--store", str(store), "--quiet", "--json", *grid)
    assert code == 0 and len(json_lines(out)) == 4, err
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, "-m", "metareg", "bench", "--store", str(store), "--quiet", "--rerun", *grid]
    runners = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in runners]
    assert [r.returncode for r in runners] == [0, 0], [o[1].decode() for o in outputs]
    done = Counter(r.config_hash for r in Store(store).runs(status="done"))
    assert len(done) == 4 and set(done.values()) == {2}  # the first pass's run and exactly one rerun each


def test_the_process_start_comes_before_anything_it_did():
    assert process_started_at() <= time.time()
    child = subprocess.run([sys.executable, "-c", "import time; t = time.time(); from metareg.store.database import "
                            "process_started_at as p; s = p(); print(t - s)"], capture_output=True, text=True,
                           check=True)
    assert 0 <= float(child.stdout) < 60
