"""One combination's resolved config, shared by all its seeds when a grid is planned.

Why: resolving a cell (omegaconf structured configs, twice per cell) takes tens of milliseconds, so ``--seeds 0-2000``
spent most of a minute planning before the first run, resolving the same combination two thousand times. Only
``run.seed`` differs between a combination's seeds, and nothing that ``resolve`` decides depends on it (presets, key
checks, ranges, compatibility), so the combination is resolved once, at its first seed. Each other seed gets its
identity from the shared ``identity`` payload with ``config.run.seed`` replaced (the same bytes ``config_hash`` would
hash), and its config, a copy of the shared one with the seed set, is made only when something reads it.

Sharing is used only where it is exact: a seed ``run.seed``'s range accepts (any other goes through ``resolve`` and
its error), and a config with no interpolation (a value like ``${run.seed}`` would differ between seeds).
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from metareg.run.config import RunSection, Selection, identity, payload_hash, to_container


def shareable(seed: Any) -> bool:
    """Whether a seed may take its config from another seed's: an int that ``run.seed``'s range accepts (any other
    value is resolved, so that ``resolve`` says what is wrong with it)."""
    return type(seed) is int and seed in RunSection.ranges["seed"]


class SharedSeeds:
    """The resolved config of one combination at one seed, from which its other seeds' configs and ids follow."""

    def __init__(self, cfg: DictConfig, selection: Selection):
        self.cfg, self.selection = cfg, selection
        self.payload = identity(cfg, selection)
        self.seed = cfg.run.seed
        self.exact = OmegaConf.to_container(cfg, resolve=False) == to_container(cfg)  # no interpolation

    def covers(self, seed: Any) -> bool:
        """Whether ``seed``'s config and id can be derived here rather than resolved."""
        return self.exact and shareable(seed)

    def hash(self, seed: int) -> str:
        """``config_hash`` of the combination at ``seed``."""
        if seed == self.seed:
            return payload_hash(self.payload)
        config = self.payload["config"]
        return payload_hash({**self.payload, "config": {**config, "run": {**config["run"], "seed": seed}}})

    def config(self, seed: int) -> DictConfig | Callable[[], DictConfig]:
        """The shared config at its own seed; for another, a function that makes that seed's (read-only) copy."""
        if seed == self.seed:
            return self.cfg

        def make() -> DictConfig:
            cfg = copy.deepcopy(self.cfg)
            OmegaConf.set_readonly(cfg, False)
            cfg.run.seed = seed
            OmegaConf.set_readonly(cfg, True)
            return cfg

        return make
