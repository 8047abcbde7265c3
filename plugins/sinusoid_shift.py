"""Sinusoid regression with a domain shift: meta-train on one range of amplitudes and phases, test on another."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

import metareg
from metareg import TaskBatch
from metareg_plugins.sinusoid import Sinusoid


class SinusoidShift(Sinusoid):
    """Source tasks y = A·sin(x − φ) from the ``sinusoid`` ranges; target (test) tasks from shifted ranges
    (by default amplitudes 5–10 and phases π–2π, both outside the source range).

    The unlabelled target pool is inputs x of target tasks. With the default x range equal to the source's, the
    input distributions coincide and the shift lives only in p(y|x): a feature-alignment adversary has nothing to
    align (its discriminator stays at chance), which is this benchmark's lesson for DANN-style methods. Shift the
    target x range (``target_x_min``/``target_x_max``) to give it covariate shift as well.

    Config (beyond ``sinusoid``'s):
        target_amplitude_min, target_amplitude_max, target_phase_min, target_phase_max, target_x_min, target_x_max.

    Example:
        metareg bench --learner maml --benchmark sinusoid-shift benchmark.sinusoid-shift.target_amplitude_max=8
    """

    name = "sinusoid-shift"

    @dataclass
    class Config(Sinusoid.Config):
        target_amplitude_min: float = 5.0
        target_amplitude_max: float = 10.0
        target_phase_min: float = math.pi
        target_phase_max: float = 2 * math.pi
        target_x_min: float = -5.0
        target_x_max: float = 5.0

    ranges = {**Sinusoid.ranges, **dict.fromkeys(("target_amplitude_min", "target_amplitude_max", "target_phase_min",
                                                   "target_phase_max", "target_x_min", "target_x_max"),
                                                  metareg.Range.finite())}

    def sample(self, split, n_tasks, generator):
        if split != "test":
            return super().sample(split, n_tasks, generator)
        c = self.config
        amplitude = self._uniform((n_tasks, 1, 1), c.target_amplitude_min, c.target_amplitude_max, generator)
        phase = self._uniform((n_tasks, 1, 1), c.target_phase_min, c.target_phase_max, generator)
        k = self.support_size(split)
        x = self._uniform((n_tasks, k + c.eval_query, 1), c.target_x_min, c.target_x_max, generator)
        y = amplitude * torch.sin(x - phase)
        return TaskBatch(x[:, :k], y[:, :k], x[:, k:], y[:, k:])

    def target_pool(self, n, generator):
        return self._uniform((n, 1), self.config.target_x_min, self.config.target_x_max, generator)


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(SinusoidShift)
