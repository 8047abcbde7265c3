"""Chunks backpropagated side by side (``train.chunk_threads``): the same float64 meta-gradient as one chunk at a
time for every built-in learner, the same result on every run, and a learner that draws from torch's global random
stream kept to the serial order."""
from __future__ import annotations

import threading
from unittest import mock

import pytest
import torch

from metareg.run import memory_budget

from helpers.chunks import CASES, LinearLearner, build_learner, chunked_gradient
from metareg.testing import tiny_batch


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[2]}-{c[1].get('vectorize', 'auto')}" for c in CASES])
def test_side_by_side_chunks_give_the_whole_meta_batch_gradient_in_float64(case):
    # Versa's logit noise is zeroed in _gradient (torch.randn), as in test_chunking
    learner, batch = build_learner(*case)
    whole, out = chunked_gradient(learner, batch, None)
    for chunk in (1, 2):
        got, threaded = chunked_gradient(learner, batch, chunk, threads=2)
        assert torch.allclose(got, whole, rtol=1e-10, atol=1e-12), (chunk, (got - whole).abs().max())
        assert torch.allclose(threaded.loss, out.loss, rtol=1e-10) or case[0] == "reptile"  # a surrogate
        assert threaded.metrics.keys() == out.metrics.keys()


def test_side_by_side_chunks_give_the_same_float32_gradient_on_every_run():
    learner, batch = build_learner(*CASES[0])
    learner, batch = learner.float(), type(batch)(batch.support_x.float(), batch.support_y, batch.query_x.float(),
                                                  batch.query_y)
    first, _ = chunked_gradient(learner, batch, 1, threads=2)
    for _ in range(5):
        assert torch.equal(chunked_gradient(learner, batch, 1, threads=2)[0], first)


def test_only_a_learner_that_says_it_may_runs_its_chunks_in_threads():
    from metareg.run import chunk_threads

    started = []
    real = chunk_threads.ThreadPoolExecutor

    def counting(*args, **kwargs):
        started.append(1)
        return real(*args, **kwargs)

    with mock.patch.object(chunk_threads, "ThreadPoolExecutor", counting):
        for case in CASES:
            learner, batch = build_learner(*case)
            before = len(started)
            chunked_gradient(learner, batch, 1, threads=2)
            assert (len(started) > before) == learner.runs_in_threads(), case[0]
    assert started  # MAML and Reptile grouped did


def test_a_learner_drawing_from_the_global_random_stream_keeps_the_serial_order():
    learner, batch = build_learner(*CASES[0])  # MAML grouped: may run in threads
    meta_loss = learner.meta_loss

    threads = set()

    def noisy(part):  # a draw per chunk that changes its gradient: interleaved draws would change the result
        threads.add(threading.current_thread().name)
        out = meta_loss(part)
        return type(out)(out.loss * (1 + 0.1 * torch.rand((), dtype=out.loss.dtype)), out.metrics, out.task_losses)

    learner.meta_loss = noisy
    torch.manual_seed(1)
    serial, _ = chunked_gradient(learner, batch, 1)
    torch.manual_seed(1)
    side_by_side, _ = chunked_gradient(learner, batch, 1, threads=2)
    assert torch.equal(side_by_side, serial)
    assert threads == {threading.main_thread().name}  # every chunk ran in the serial order, on this thread


@pytest.mark.parametrize("form", ["value", "norm"])
def test_clipping_and_an_adversary_loss_compose_with_side_by_side_chunks(form):
    learner, batch = build_learner(*CASES[0])  # MAML grouped: runs in threads
    extra = lambda m: m.backbone(batch.query_x[0]).pow(2).mean() * 3  # noqa: E731 - a stand-in adversary loss
    serial, _ = chunked_gradient(learner, batch, 2, form, extra=extra)
    threaded, _ = chunked_gradient(learner, batch, 2, form, extra=extra, threads=2)
    assert learner.runs_in_threads()
    assert torch.allclose(threaded, serial, rtol=1e-10, atol=1e-12)


def test_auto_budgets_for_every_chunk_alive_and_passes_one_task_at_a_time():
    def peak(fn, device):
        return 300 * memory_budget.MIB  # every probe: the budget, not the probe, decides here

    learner = LinearLearner()
    batch = tiny_batch("classification", n_tasks=32)
    with mock.patch.object(memory_budget, "measure_peak", peak):
        choice = memory_budget.choose_chunk(learner, batch, list(learner.parameters()), torch.device("cpu"),
                                            100_000, threads=2)
    assert choice.chunk == 1 and choice.threads == 2 and "2 passes side by side" in choice.line()
    assert "per pass on the CPU" not in choice.line()  # one task a pass is the threads' rule, not the CPU cap
    with mock.patch.object(memory_budget, "measure_peak", peak), pytest.raises(memory_budget.MemoryBudgetError):
        # 1.2 * 2 * 300 MiB (base + a task) is over 600 MiB: one chunk per thread does not fit
        memory_budget.choose_chunk(learner, batch, list(learner.parameters()), torch.device("cpu"), 600, threads=2)
