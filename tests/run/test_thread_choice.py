"""``train.chunk_threads=auto``: threads for a pass with enough floating-point work (a Conv4 MAML episode), one
thread for a dispatch-bound one (the sinusoid MLP), one off the CPU or for a learner that cannot run in threads;
the choice is counted, so it is the same on every call, leaves no trace in the learner, and is stored with the run."""
from __future__ import annotations

import pytest
import torch

from metareg.run import thread_choice
from metareg.run.config import parse_overrides, resolve
from metareg.run.engine import Run
from metareg.toolkit.tasks import torch_generator


def _learner_and_batch(registry, learner: str, benchmark: str, *overrides: str, tasks: int = 4):
    cfg, selection = resolve(registry, parse_overrides(list(overrides)),
                             {"learner": learner, "benchmark": benchmark, "device": "cpu"})
    run = Run(cfg, selection, registry)
    return run.learner, run.benchmark.sample("train", tasks, torch_generator(0, "train"))


def _choose(learner, batch):
    return thread_choice.choose_threads(learner, batch, list(learner.parameters()), torch.device("cpu"))


CONV4 = ("benchmark.digits.image_size=28", "backbone.conv4.channels=32")


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)


def test_a_conv4_maml_episode_runs_side_by_side_and_a_sinusoid_task_does_not(registry, two_threads):
    conv = _choose(*_learner_and_batch(registry, "maml", "digits", *CONV4))
    assert conv.threads == 2 and conv.pass_flop >= thread_choice.MIN_PASS_FLOP
    sine = _choose(*_learner_and_batch(registry, "maml", "sinusoid"))
    assert sine.threads == 1 and sine.pass_flop < thread_choice.MIN_PASS_FLOP / 10
    assert "mostly dispatch" in sine.line() and "MFLOP" in conv.line()


def test_the_choice_is_the_same_on_every_call_and_leaves_the_learner_as_it_was(registry, two_threads):
    learner, batch = _learner_and_batch(registry, "maml", "digits", *CONV4)
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    rng = torch.get_rng_state()
    choices = {_choose(learner, batch) for _ in range(3)}
    assert len(choices) == 1
    assert all(torch.equal(before[k], v) for k, v in learner.state_dict().items())
    assert all(p.grad is None for p in learner.parameters()) and torch.equal(rng, torch.get_rng_state())


def test_one_thread_without_cores_a_second_task_or_a_learner_that_allows_threads(registry, monkeypatch):
    learner, batch = _learner_and_batch(registry, "maml", "digits", *CONV4)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert _choose(learner, batch).threads == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    assert _choose(learner, batch).threads == 4  # at most one per task
    assert _choose(learner, batch.tasks(0, 1)).threads == 1
    protonet, episodes = _learner_and_batch(registry, "protonet", "digits", *CONV4)
    assert "one at a time" in _choose(protonet, episodes).reason
    assert thread_choice.choose_threads(learner, batch, list(learner.parameters()),
                                        torch.device("meta")).threads == 1


def test_a_run_stores_what_auto_chose(run_cli, tmp_path):
    from metareg.store.database import Store

    code, _, err = run_cli("bench", "--learner", "maml", "--benchmark", "sinusoid", "--quiet",
                           "train.meta_iterations=2", "train.val_every=0", "train.test_tasks=5",
                           "train.eval_batch_size=5")
    assert code == 0, err
    [row] = Store(tmp_path / "store").runs()
    assert row.config["train"]["chunk_threads"] == 1
