"""The meta-batch in chunks of tasks: the same meta-gradient for every built-in learner, strategy, chunk size and
clipping form (float64), and ``train.task_chunk=auto``'s choice from a memory budget."""
from __future__ import annotations

import sys
from unittest import mock

import pytest
import torch

from metareg.host.registry import Registry
from metareg.run import memory_budget
from metareg.run.chunking import meta_backward
from metareg.testing import tiny_batch

REGISTRY = Registry.load(warn=False)
TASKS = 5

#: (learner, its settings, backbone, its settings, task kind)
CASES = [
    ("maml", {"inner_steps": 2, "inner_lr": 0.1, "vectorize": "grouped"}, "conv4", {"channels": 3}, "classification"),
    ("maml", {"inner_steps": 2, "inner_lr": 0.1, "vectorize": "vmap"}, "mlp", {"hidden": [8, 8]}, "regression"),
    ("maml", {"inner_steps": 2, "inner_lr": 0.1, "first_order": True, "vectorize": "loop"}, "mlp", {"hidden": [8]},
     "classification"),
    ("reptile", {"inner_steps": 2, "inner_lr": 0.1, "vectorize": "grouped"}, "conv4", {"channels": 3},
     "classification"),
    ("cavia", {"inner_steps": 2, "inner_lr": 0.5, "context_dim": 3}, "conv4", {"channels": 3}, "classification"),
    ("cavia", {"inner_steps": 2, "inner_lr": 0.5, "context_dim": 3}, "mlp", {"hidden": [8, 8]}, "regression"),
    ("protonet", {"vectorize": "grouped"}, "conv4", {"channels": 3}, "classification"),
    ("versa", {"hidden": 6, "samples": 3}, "conv4", {"channels": 3}, "classification"),
    ("finetune", {}, "mlp", {"hidden": [8]}, "regression"),
]


def _build(learner: str, settings: dict, backbone: str, backbone_settings: dict, kind: str):
    torch.manual_seed(0)
    batch = tiny_batch(kind, n_tasks=TASKS, input_shape=(1, 16, 16) if backbone == "conv4" else None)
    batch = batch.to(torch.device("cpu"))
    batch = type(batch)(batch.support_x.double(), batch.support_y if kind == "classification" else
                        batch.support_y.double(), batch.query_x.double(),
                        batch.query_y if kind == "classification" else batch.query_y.double())
    learner_cls = REGISTRY.get("learner", learner).cls
    backbone_cls = REGISTRY.get("backbone", backbone).cls
    config = learner_cls.Config(**settings)
    from metareg.toolkit.tasks import TaskSpec

    n_out = 3 if kind == "classification" else 1
    spec = TaskSpec(kind, tuple(batch.support_x.shape[2:]), n_out, 2 if kind == "classification" else 5,
                    2 if kind == "classification" else 5, n_out if kind == "classification" else None)
    net = backbone_cls(spec.input_shape, backbone_cls.Config(**backbone_settings),
                       context_dim=learner_cls.context_size(config))
    return learner_cls(net, spec, config).double(), batch


def _gradient(learner, batch, chunk, form="none", bound=10.0, extra=None, threads=1):
    params = list(learner.parameters())
    for p in params:
        p.grad = None
    with mock.patch("torch.randn", lambda *a, **k: torch.zeros(*a, **{**k, "dtype": k.get("dtype")})):
        out = meta_backward(learner, batch, params, chunk, form, bound, extra and (lambda: extra(learner)),
                            threads=threads)
    return torch.cat([p.grad.flatten() for p in params if p.grad is not None]), out


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[2]}-{c[1].get('vectorize', 'auto')}" for c in CASES])
def test_every_chunk_size_gives_the_whole_meta_batch_gradient_in_float64(case):
    # Versa's logit noise is zeroed here (torch.randn): drawn per chunk, it is the same only in distribution
    learner, batch = _build(*case)
    whole, out = _gradient(learner, batch, None)
    assert whole.abs().sum() > 0
    for chunk in range(1, TASKS):
        got, chunked = _gradient(learner, batch, chunk)
        assert torch.allclose(got, whole, rtol=1e-10, atol=1e-12), (chunk, (got - whole).abs().max())
        assert torch.allclose(chunked.loss, out.loss, rtol=1e-10) or case[0] == "reptile"  # a surrogate's value
        assert chunked.metrics.keys() == out.metrics.keys()


@pytest.mark.parametrize("form", ["value", "norm", "task_value"])
def test_clipping_and_an_adversary_loss_compose_with_chunks(form):
    learner, batch = _build(*CASES[4])  # CAVIA reports per-task losses, which task_value needs
    extra = lambda m: m.backbone(batch.query_x[0]).pow(2).mean() * 3  # noqa: E731 - a stand-in adversary loss
    whole, _ = _gradient(learner, batch, None, form, 0.05, extra)
    for chunk in (1, 2, 3):
        got, _ = _gradient(learner, batch, chunk, form, 0.05, extra)
        assert torch.allclose(got, whole, rtol=1e-10, atol=1e-12), (form, chunk)
    unclipped, _ = _gradient(learner, batch, None, "none", 0.05, extra)
    assert not torch.allclose(whole, unclipped)  # the bound was reached: the clipping was exercised


def test_a_learner_that_couples_its_tasks_is_never_chunked():
    learner, batch = _build(*CASES[6])
    calls = []
    learner.task_separable = False
    original = learner.meta_loss
    learner.meta_loss = lambda b: calls.append(len(b)) or original(b)
    _gradient(learner, batch, 1)
    assert calls == [TASKS]


class _Linear(torch.nn.Module):
    """A stand-in learner for the choice: its memory is what the patched probe says."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(2))

    def meta_loss(self, batch):
        from metareg.host.contracts.learner import LearnerOutput

        return LearnerOutput(self.w.sum() * len(batch))


def _choose(tasks, budget_mib, base_mib=100, per_task_mib=50, device="meta"):
    """``choose_chunk`` with the probe's measurements made up; ``meta`` stands for a device that is not the CPU
    (the choice only asks whether it is the CPU; nothing runs on it)."""
    sizes = []

    def peak(fn, device):
        before = len(sizes)
        original = _Linear.meta_loss

        def counting(self, b):
            sizes.append(len(b))
            return original(self, b)

        with mock.patch.object(_Linear, "meta_loss", counting):
            fn()
        c = sizes[before]
        return (base_mib + c * per_task_mib) * memory_budget.MIB

    learner = _Linear()
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
    learner, batch = _build(*CASES[0])
    params = list(learner.parameters())

    def step(c):
        return memory_budget.measure_peak(lambda: learner.meta_loss(batch.tasks(0, c)).loss.backward(),
                                          torch.device("cpu"))

    step(1)
    assert step(4) > step(1) > 0
