"""Reference initialisation: CAVIA's Kaiming scheme on the backbone and head, and what it does to the inner step."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from metareg.errors import ConfigError
from metareg.run.config import resolve
from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import MLP, Conv4
from metareg_plugins.cavia import CAVIA


def _uniform_bound(weight: torch.Tensor) -> float:
    """The bound of the uniform distribution the weight's standard deviation implies (std = bound / √3)."""
    return weight.std().item() * math.sqrt(3)


def test_conv4_kaiming_init_matches_the_cavia_reference():
    torch.manual_seed(0)
    net = Conv4((1, 28, 28), Conv4.Config(channels=32, init="kaiming"), context_dim=100)
    for i, block in enumerate(net.blocks):
        conv = block[0]
        fan_in = conv.weight[0].numel()
        assert _uniform_bound(conv.weight) == pytest.approx(math.sqrt(6 / fan_in), rel=0.1), i  # He, ReLU gain
        assert torch.count_nonzero(conv.bias) == 0
    assert _uniform_bound(net.film.weight) == pytest.approx(math.sqrt(3 / 100), rel=0.1)  # He, linear gain


def test_torch_init_is_the_default_and_about_sqrt6_smaller():
    torch.manual_seed(0)
    net = Conv4((1, 28, 28), Conv4.Config(channels=32))
    conv = net.blocks[1][0]
    fan_in = conv.weight[0].numel()
    assert _uniform_bound(conv.weight) == pytest.approx(1 / math.sqrt(fan_in), rel=0.1)
    assert torch.count_nonzero(conv.bias) > 0


def test_mlp_kaiming_init_zeroes_biases():
    mlp = MLP((1,), MLP.Config(hidden=[40, 40], init="kaiming"))
    assert all(torch.count_nonzero(m.bias) == 0 for m in mlp.net if isinstance(m, torch.nn.Linear))


def test_an_unknown_init_scheme_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="backbone.conv4.init"):
        Conv4((1, 28, 28), Conv4.Config(init="xavier"))


def _cavia(init: str, seed: int) -> CAVIA:
    torch.manual_seed(seed)
    spec = TaskSpec("classification", (1, 16, 16), 5, 1, 15, n_way=5)
    config = CAVIA.Config(context_dim=100, inner_lr=1.0, inner_steps=2, test_inner_steps=2, init=init)
    backbone = Conv4(spec.input_shape, Conv4.Config(channels=32, init=init), context_dim=100)
    return CAVIA(backbone, spec, config)


def _support_loss_drop(learner: CAVIA, batch: TaskBatch) -> float:
    """How much CAVIA's two inner steps on the context lower the support loss, averaged over the batch's tasks."""
    drops = []
    for i in range(len(batch)):
        sx, sy = batch.support_x[i], batch.support_y[i]
        context, _ = learner.adapt_context(sx, sy, 2)
        with torch.no_grad():
            before = F.cross_entropy(learner(sx, torch.zeros(100)), sy)
            after = F.cross_entropy(learner(sx, context), sy)
        drops.append((before - after).item())
    return sum(drops) / len(drops)


def test_reference_init_lets_two_inner_steps_move_the_support_loss():
    """The audit's finding: at initialisation two context steps barely move the support loss under PyTorch's
    default weights, and clearly do under the reference's (context step ∝ FiLM weights², head weights)."""
    g = torch.Generator().manual_seed(0)
    sx = torch.rand(8, 5, 1, 16, 16, generator=g)
    batch = TaskBatch(sx, torch.arange(5).repeat(8, 1), sx, torch.arange(5).repeat(8, 1))
    for seed in range(3):
        default, reference = _support_loss_drop(_cavia("torch", seed), batch), _support_loss_drop(
            _cavia("kaiming", seed), batch)
        assert reference > 3 * default, (seed, default, reference)


def test_cavia_presets_choose_the_reference_init_and_clipping(registry):
    cfg, _ = resolve(registry, [], {"learner": "cavia", "benchmark": "digits"})
    assert cfg.backbone.conv4.init == "kaiming" and cfg.learner.cavia.init == "kaiming"
    assert (cfg.train.grad_clip, cfg.train.grad_clip_max) == ("value", 10.0)
    cfg, _ = resolve(registry, [], {"learner": "cavia", "benchmark": "sinusoid"})
    assert cfg.backbone.mlp.init == "torch" and cfg.train.grad_clip == "task_value"
    cfg, _ = resolve(registry, [("backbone.conv4.init", "torch"), ("train.grad_clip", "none")],
                     {"learner": "cavia", "benchmark": "digits"})
    assert cfg.backbone.conv4.init == "torch" and cfg.train.grad_clip == "none"  # the user wins over a preset
    cfg, _ = resolve(registry, [], {"learner": "maml", "benchmark": "digits"})
    assert cfg.backbone.conv4.init == "torch" and cfg.train.grad_clip == "none"  # other learners are untouched
