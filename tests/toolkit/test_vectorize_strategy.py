"""How ``vectorize`` picks a strategy, and that a backbone declaring ``supports_vmap = False`` never gets vmap."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import metareg
from metareg import resolve_strategy

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
    assert resolve_strategy("auto", Dense(), CPU) == "vmap"
    assert resolve_strategy("auto", Dense(), GPU) == "vmap"
    assert resolve_strategy("loop", Dense(), CPU) == "loop" and resolve_strategy("loop", Dense(), GPU) == "loop"


def test_auto_never_picks_vmap_for_a_backbone_that_declares_it_unsupported():
    assert resolve_strategy("auto", NoVmap(), GPU, shared_weights=True) == "loop"
    assert resolve_strategy("auto", nn.Sequential(NoVmap()), CPU) == "loop"  # a learner holding it
    assert resolve_strategy("auto", NoVmap(), CPU) == "loop" and resolve_strategy("auto", NoVmap(), GPU) == "loop"
    assert resolve_strategy("auto", Grouped(), GPU) == "grouped"


def test_asking_for_vmap_on_such_a_backbone_is_a_config_error_naming_it_and_the_fix():
    for call in (lambda: resolve_strategy("vmap", NoVmap(), CPU, shared_weights=True),
                 lambda: resolve_strategy("vmap", NoVmap(), CPU)):
        with pytest.raises(metareg.ConfigError, match="NoVmap declares supports_vmap = False.*vectorize=loop"):
            call()


def test_convolutions_loop_on_the_cpu_unless_every_task_shares_the_weights():
    conv = nn.Sequential(nn.Conv2d(1, 2, 3))
    assert resolve_strategy("auto", conv, CPU) == "loop" and resolve_strategy("auto", conv, GPU) == "vmap"
    assert resolve_strategy("auto", conv, CPU, shared_weights=True) == "vmap"  # CAVIA: only the context is per task


def test_grouped_is_refused_when_every_task_shares_the_weights_even_for_a_backbone_that_has_task_layers():
    assert resolve_strategy("auto", Grouped(), CPU, shared_weights=True) == "loop"  # refuses vmap, cannot group
    with pytest.raises(metareg.ConfigError, match="every task shares them: use vmap or loop"):
        resolve_strategy("grouped", Grouped(), CPU, shared_weights=True)
