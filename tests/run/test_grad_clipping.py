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
