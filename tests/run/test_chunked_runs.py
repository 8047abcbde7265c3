"""``train.task_chunk`` in a run: auto keeps a run's numbers when the batch fits, an explicit chunk changes only
float rounding, neither changes the run's identity, and the store records what auto chose."""
from __future__ import annotations

import sys

import pytest

from metareg.host.registry import Registry
from metareg.run.config import resolve
from metareg.run.engine import Run
from metareg.store.database import Store

REGISTRY = Registry.load(warn=False)
BASE = [("train.meta_iterations", 30), ("train.meta_batch_size", 6), ("train.val_every", 15),
        ("train.val_tasks", 10), ("train.test_tasks", 20)]


def _run(*settings, learner="maml", benchmark="sinusoid", store=None):
    cfg, selection = resolve(REGISTRY, BASE + list(settings), {"learner": learner, "benchmark": benchmark})
    run = Run(cfg, selection, REGISTRY)
    return run, run.execute(progress=False, store=store)


def test_auto_with_room_for_the_whole_batch_gives_the_numbers_of_an_unchunked_run(tmp_path):
    store = Store(tmp_path / "results.sqlite")
    auto_run, auto = _run(store=store)
    _, whole = _run(("train.task_chunk", 6))
    assert auto.status == whole.status == "done"
    assert auto.metrics == whole.metrics and auto.history == whole.history  # to the last digit
    assert auto.resolved["train"]["task_chunk"] == 6 and auto.resolved["train"]["memory_budget"] > 0
    stored = store.get(auto.run_id).config["train"]
    assert stored["task_chunk"] == 6 and stored["memory_budget"] == auto.resolved["train"]["memory_budget"]


def test_an_explicit_chunk_changes_only_float_rounding_and_not_the_identity():
    whole_run, whole = _run(("train.task_chunk", 6))
    chunked_run, chunked = _run(("train.task_chunk", 4))
    assert chunked.resolved == {"train": {"task_chunk": 4, "chunk_threads": 1}}  # auto: a sinusoid pass is dispatch
    assert chunked_run.hash == whole_run.hash  # how a run computes is not what it is
    got, want = chunked.metrics["mse"]["mean"], whole.metrics["mse"]["mean"]
    assert got == pytest.approx(want, rel=1e-3)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU probe reads /proc")
def test_a_budget_below_one_task_fails_the_run_with_the_setting_to_change():
    _, result = _run(("train.memory_budget", 0.01), ("train.meta_iterations", 2), ("train.val_every", 0),
                     learner="protonet", benchmark="digits")
    assert result.status == "failed"
    assert "MemoryBudgetError" in result.error and "raise train.memory_budget" in result.error
