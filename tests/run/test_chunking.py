"""The meta-batch in chunks of tasks: the same meta-gradient for every built-in learner, strategy, chunk size and
clipping form (float64), and ``train.task_chunk=auto``'s choice from a memory budget."""
from __future__ import annotations

import sys
from unittest import mock

import pytest
import torch

from metareg.run import memory_budget
from metareg.testing import tiny_batch
from helpers.chunks import CASES, LinearLearner, TASKS, build_learner, chunked_gradient


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[2]}-{c[1].get('vectorize', 'auto')}" for c in CASES])
def test_every_chunk_size_gives_the_whole_meta_batch_gradient_in_float64(case):
    # Versa's logit noise is zeroed here (torch.randn): drawn per chunk, it is the same only in distribution
    learner, batch = build_learner(*case)
    whole, out = chunked_gradient(learner, batch, None)
    assert whole.abs().sum() > 0
    for chunk in range(1, TASKS):
        got, chunked = chunked_gradient(learner, batch, chunk)
        assert torch.allclose(got, whole, rtol=1e-10, atol=1e-12), (chunk, (got - whole).abs().max())
        assert torch.allclose(chunked.loss, out.loss, rtol=1e-10) or case[0] == "reptile"  # a surrogate's value
        assert chunked.metrics.keys() == out.metrics.keys()


@pytest.mark.parametrize("form", ["value", "norm", "task_value"])
def test_clipping_and_an_adversary_loss_compose_with_chunks(form):
    learner, batch = build_learner(*CASES[4])  # CAVIA reports per-task losses, which task_value needs
    extra = lambda m: m.backbone(batch.query_x[0]).pow(2).mean() * 3  # noqa: E731 - a stand-in adversary loss
    whole, _ = chunked_gradient(learner, batch, None, form, 0.05, extra)
    for chunk in (1, 2, 3):
        got, _ = chunked_gradient(learner, batch, chunk, form, 0.05, extra)
        assert torch.allclose(got, whole, rtol=1e-10, atol=1e-12), (form, chunk)
    unclipped, _ = chunked_gradient(learner, batch, None, "none", 0.05, extra)
    assert not torch.allclose(whole, unclipped)  # the bound was reached: the clipping was exercised


def test_a_learner_that_couples_its_tasks_is_never_chunked():
    learner, batch = build_learner(*CASES[6])
    calls = []
    learner.task_separable = False
    original = learner.meta_loss
    learner.meta_loss = lambda b: calls.append(len(b)) or original(b)
    chunked_gradient(learner, batch, 1)
    assert calls == [TASKS]


def _choose(tasks, budget_mib, base_mib=100, per_task_mib=50, device="meta"):
    """``choose_chunk`` with the probe's measurements made up; ``meta`` stands for a device that is not the CPU
    (the choice only asks whether it is the CPU; nothing runs on it)."""
    sizes = []

    def peak(fn, device):
        before = len(sizes)
        original = LinearLearner.meta_loss

        def counting(self, b):
            sizes.append(len(b))
            return original(self, b)

        with mock.patch.object(LinearLearner, "meta_loss", counting):
            fn()
        c = sizes[before]
        return (base_mib + c * per_task_mib) * memory_budget.MIB

    learner = LinearLearner()
    batch = tiny_batch("classification", n_tasks=tasks)
    with mock.patch.object(memory_budget, "measure_peak", peak):
        return memory_budget.choose_chunk(learner, batch, list(learner.parameters()), torch.device(device),
                                          budget_mib)


def test_auto_takes_the_largest_chunk_within_the_budget_and_evens_the_chunks_out():
    whole = _choose(32, 100_000)
    assert whole.chunk == 32 and "whole meta-batch of 32 tasks" in whole.line()
    # 1.2 * (100 + c * 50) <= 800 -> c <= 11: three passes, evened to 11, 11, 10
    choice = _choose(32, 800)
    assert choice.chunk == 11 and choice.stored() == {"task_chunk": 11, "memory_budget": 800}
    assert "chunks of 11 of the 32 tasks (3 passes)" in choice.line() and "50 MiB per task" in choice.line()
    assert _choose(3, 100_000).chunk == 3  # fewer tasks than the probe's: the line has one point


def test_on_the_cpu_a_pass_stays_under_the_faster_size_when_the_budget_allows_more():
    # 100 + c * 50 <= 512 MiB -> c <= 8: four passes of 8; a GPU takes the whole batch
    cpu = _choose(32, 100_000, device="cpu")
    assert cpu.chunk == 8 and cpu.cpu_capped and "at most 512 MiB per pass on the CPU" in cpu.line()
    assert _choose(32, 100_000, base_mib=1, per_task_mib=1, device="cpu").chunk == 32  # small tasks: one pass
    assert _choose(32, 100_000, base_mib=600, device="cpu").chunk == 1  # over the size at once: one task a pass


def test_not_even_one_task_fitting_is_an_error_naming_the_setting():
    with pytest.raises(memory_budget.MemoryBudgetError, match="raise train.memory_budget"):
        _choose(8, 100)


@pytest.mark.parametrize("key,value", [("task_chunk", 0), ("task_chunk", "some"), ("task_chunk", 2.5),
                                       ("task_chunk", True), ("memory_budget", -1), ("memory_budget", "lots")])
def test_bad_chunk_settings_are_config_errors_naming_the_key(registry, key, value):
    from metareg.errors import ConfigError
    from metareg.run.config import resolve

    with pytest.raises(ConfigError, match=f"train.{key} must be auto or "):
        resolve(registry, [(f"train.{key}", value)])


@pytest.mark.parametrize("key,value", [("task_chunk", 3), ("task_chunk", "auto"), ("memory_budget", 0.5),
                                       ("memory_budget", "auto")])
def test_good_chunk_settings_resolve(registry, key, value):
    from metareg.run.config import resolve

    cfg, _ = resolve(registry, [(f"train.{key}", value)])
    assert cfg.train[key] == value


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU probe reads /proc")
def test_the_cpu_probe_measures_a_meta_step_that_grows_with_its_tasks():
    learner, batch = build_learner(*CASES[0])

    def step(c):
        return memory_budget.measure_peak(lambda: learner.meta_loss(batch.tasks(0, c)).loss.backward(),
                                          torch.device("cpu"))

    step(1)
    assert step(4) > step(1) > 0
