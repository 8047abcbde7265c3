"""How ``vectorize`` picks a strategy, and that a backbone declaring ``supports_vmap = False`` never gets vmap."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import metareg
from metareg.toolkit.functional import resolve_strategy, resolve_vectorize

CPU, GPU = torch.device("cpu"), torch.device("cuda")


class Dense(metareg.Backbone):
    name = "dense-test"

    def __init__(self):
        super().__init__((3,), None)
        self.net, self.feature_dim = nn.Linear(3, 2), 2

    def forward(self, x, context=None):
        return self.net(x)


class NoVmap(Dense):
    name = "no-vmap-test"
    supports_vmap = False


class Grouped(NoVmap):
    name = "grouped-no-vmap-test"

    def task_layers(self):
        return [("net", self.net)]


def test_auto_batches_a_dense_backbone_with_vmap_and_explicit_settings_are_obeyed():
    assert resolve_vectorize("auto", Dense(), CPU) and resolve_strategy("auto", Dense(), CPU) == "vmap"
    assert resolve_strategy("auto", Dense(), GPU) == "vmap"
    assert resolve_vectorize("loop", Dense(), CPU) is False and resolve_strategy("loop", Dense(), GPU) == "loop"


def test_auto_never_picks_vmap_for_a_backbone_that_declares_it_unsupported():
    assert resolve_vectorize("auto", NoVmap(), GPU) is False
    assert resolve_vectorize("auto", nn.Sequential(NoVmap()), CPU) is False  # a learner holding it
    assert resolve_strategy("auto", NoVmap(), CPU) == "loop" and resolve_strategy("auto", NoVmap(), GPU) == "loop"
    assert resolve_strategy("auto", Grouped(), GPU) == "grouped"


def test_asking_for_vmap_on_such_a_backbone_is_a_config_error_naming_it_and_the_fix():
    for call in (lambda: resolve_vectorize("vmap", NoVmap(), CPU), lambda: resolve_strategy("vmap", NoVmap(), CPU)):
        with pytest.raises(metareg.ConfigError, match="NoVmap declares supports_vmap = False.*vectorize=loop"):
            call()


def test_convolutions_loop_on_the_cpu_unless_every_task_shares_the_weights():
    conv = nn.Sequential(nn.Conv2d(1, 2, 3))
    assert resolve_vectorize("auto", conv, CPU) is False and resolve_vectorize("auto", conv, GPU) is True
    assert resolve_vectorize("auto", conv, CPU, shared_weights=True) is True  # CAVIA: only the context is per task
