"""Outer-gradient clipping is the engine's: each form against a hand computation."""
from __future__ import annotations

import pytest
import torch

from metareg.errors import ConfigError
from metareg.run.clipping import backward_clipped
from metareg.run.config import resolve
from metareg.store.database import Store


def _problem():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(6, dtype=torch.float64))
    x = torch.randn(4, 6, dtype=torch.float64) * 30  # large inputs: per-task gradients beyond the bound
    task_losses = (x * w).sum(1).pow(2) / 100
    return w, x, task_losses


def test_value_clamps_each_element_of_the_averaged_gradient():
    w, x, losses = _problem()
    (expected,) = torch.autograd.grad(losses.mean(), w, retain_graph=True)
    backward_clipped([w], losses.mean(), "value", 1.0)
    assert torch.allclose(w.grad, expected.clamp(-1, 1))
    assert expected.abs().max() > 1  # the bound was reached


def test_norm_scales_the_gradient_to_the_bound():
    w, _, losses = _problem()
    (expected,) = torch.autograd.grad(losses.mean(), w, retain_graph=True)
    backward_clipped([w], losses.mean(), "norm", 0.5)
    assert w.grad.norm().item() == pytest.approx(0.5, rel=1e-6)
    assert torch.allclose(w.grad / w.grad.norm(), expected / expected.norm())


def test_task_value_clamps_each_task_before_averaging_then_adds_the_adversary_unclipped():
    w, x, losses = _problem()
    per_task = [torch.autograd.grad(losses[i], w, retain_graph=True)[0].clamp(-1, 1) for i in range(4)]
    extra = (w * 50).sum()
    expected = torch.stack(per_task).mean(0) + 50
    backward_clipped([w], losses.mean(), "task_value", 1.0, task_losses=losses, extra_loss=extra)
    assert torch.allclose(w.grad, expected)
    averaged_then_clipped = torch.autograd.grad(losses.mean(), w)[0].clamp(-1, 1) + 50
    assert not torch.allclose(w.grad, averaged_then_clipped)  # the two forms differ here


def test_task_value_without_per_task_losses_is_a_config_error():
    w, _, losses = _problem()
    with pytest.raises(ConfigError, match="task_losses"):
        backward_clipped([w], losses.mean(), "task_value", 1.0)


@pytest.mark.parametrize("form,bound,match", [("clip", 1.0, "train.grad_clip must be one of none, value, norm"),
                                              ("value", 0.0, "train.grad_clip_max must be above 0, got 0.0")])
def test_bad_clipping_settings_name_the_key(registry, form, bound, match):
    with pytest.raises(ConfigError, match=match):
        resolve(registry, [("train.grad_clip", form), ("train.grad_clip_max", bound)])


def test_a_bad_clipping_setting_stops_the_cli_before_anything_is_stored(run_cli, tmp_path):
    code, _, err = run_cli("bench", "--learner", "maml", "--quiet", "train.grad_clip=sometimes",
                           "train.meta_iterations=2")
    assert code == 2 and "train.grad_clip" in err
    assert not (tmp_path / "store").exists() or Store(tmp_path / "store").runs() == []


@pytest.mark.parametrize("case", [4, 5], ids=["cavia-conv4", "cavia-mlp"])
def test_task_value_batched_gives_the_per_task_loops_gradients(case):
    from helpers.chunks import CASES, build_learner
    from metareg.run.clipping import add_task_clipped, add_task_clipped_looped, trainable

    learner, batch = build_learner(*CASES[case])
    params = trainable(list(learner.parameters()))
    losses = learner.meta_loss(batch).task_losses
    batched, looped = ([torch.zeros_like(p) for p in params] for _ in range(2))
    add_task_clipped(batched, params, losses, 0.05)
    add_task_clipped_looped(looped, params, losses, 0.05)
    for b, lo in zip(batched, looped):
        assert torch.allclose(b, lo, rtol=1e-10, atol=1e-12)
    unclipped = [torch.zeros_like(p) for p in params]
    add_task_clipped_looped(unclipped, params, losses, 1e9)
    assert any(not torch.allclose(u, lo) for u, lo in zip(unclipped, looped))  # the bound was reached


def test_task_value_falls_back_to_the_loop_with_a_warning_when_the_graph_cannot_be_batched(monkeypatch):
    import metareg.run.clipping as clipping

    w, x, losses = _problem()
    per_task = [torch.autograd.grad(losses[i], w, retain_graph=True)[0].clamp(-1, 1) for i in range(4)]

    def unbatchable(task_losses, params):
        raise RuntimeError("Batching rule not implemented for aten::something")

    monkeypatch.setattr(clipping, "task_gradients", unbatchable)
    with pytest.warns(RuntimeWarning, match="could not be batched .*aten::something.*one task at a time"):
        backward_clipped([w], losses.mean(), "task_value", 1.0, task_losses=losses)
    assert torch.allclose(w.grad, torch.stack(per_task).mean(0))
