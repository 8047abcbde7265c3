"""Sinusoid regression, the MAML/CAVIA toy problem: each task is y = A sin(x - phase) observed at K points."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

import metareg
from metareg import TaskBatch, TaskSpec


class Sinusoid(metareg.Benchmark):
    """Tasks y = A·sin(x − φ), A ~ U[0.1, 5.0], φ ~ U[0, π], x ~ U[−5, 5]; K support points, the rest query.

    The task family is continuous, so train, val and test tasks are drawn from independently seeded streams and
    never coincide. Validation and test tasks use ``eval_query`` query points so each task's MSE is a precise
    estimate; meta-training uses ``n_query``.

    Config:
        k_shot: support points per task (MAML paper: K = 5, 10, 20).
        eval_k_shot: support points per validation/test task where it differs from ``k_shot`` (0: the same). The
            MAML paper fine-tunes *one* model meta-trained at K = 10 on K = 5, 10 and 20 points (Sec. 5.1, and its
            Table 2 is that model at K = 5); ``k_shot=10 eval_k_shot=5`` is that protocol. The task spec keeps
            ``k_shot``, the training shape.
        n_query: query points per meta-training task (MAML: K, a second sample of the same size).
        eval_query: query points per validation/test task, spread over the whole input range.
        amplitude_min, amplitude_max, phase_min, phase_max, x_min, x_max: the task distribution.

    References:
        Finn et al. 2017, Sec. 5.1 (the protocol); Zintgraf et al. 2019, Table 1 (CAVIA vs MAML).

    Example:
        metareg bench --learner maml --benchmark sinusoid benchmark.sinusoid.k_shot=5
    """

    name = "sinusoid"
    task_kind = "regression"
    default_backbone = "mlp"
    # the MAML paper's protocol: meta-batch 25, Adam 1e-3 (70k iterations in the paper; 8k here, see the docs)
    train_defaults = {"meta_batch_size": 25, "outer_lr": 0.001, "meta_iterations": 8000, "val_every": 1000}

    @dataclass
    class Config:
        k_shot: int = 10
        eval_k_shot: int = 0
        n_query: int = 10
        eval_query: int = 100
        amplitude_min: float = 0.1
        amplitude_max: float = 5.0
        phase_min: float = 0.0
        phase_max: float = math.pi
        x_min: float = -5.0
        x_max: float = 5.0

    #: added after runs were stored: at 0 it is left out of a run's identity, so those runs keep their ids
    added_settings = {"eval_k_shot": 0}

    ranges = {"k_shot": metareg.Range.at_least(1), "eval_k_shot": metareg.Range.at_least(0), "n_query": metareg.Range.at_least(1),
              "eval_query": metareg.Range.at_least(1),
              **dict.fromkeys(("amplitude_min", "amplitude_max", "phase_min", "phase_max", "x_min", "x_max"),
                              metareg.Range.finite())}

    def __init__(self, config):
        super().__init__(config)
        self.spec = TaskSpec("regression", (1,), 1, config.k_shot, config.n_query)

    def _uniform(self, shape, low, high, generator):
        return low + (high - low) * torch.rand(shape, generator=generator)

    def support_size(self, split: str) -> int:
        """Support points per task of ``split``: ``k_shot`` in training, ``eval_k_shot`` (where set) after."""
        c = self.config
        return c.eval_k_shot if split != "train" and c.eval_k_shot else c.k_shot

    def sample(self, split, n_tasks, generator):
        if split not in ("train", "val", "test"):
            raise ValueError(f"unknown split {split!r}")
        c = self.config
        n_query = c.n_query if split == "train" else c.eval_query
        amplitude = self._uniform((n_tasks, 1, 1), c.amplitude_min, c.amplitude_max, generator)
        phase = self._uniform((n_tasks, 1, 1), c.phase_min, c.phase_max, generator)
        k = self.support_size(split)
        x = self._uniform((n_tasks, k + n_query, 1), c.x_min, c.x_max, generator)
        y = amplitude * torch.sin(x - phase)
        return TaskBatch(x[:, :k], y[:, :k], x[:, k:], y[:, k:])


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(Sinusoid)
