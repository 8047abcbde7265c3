"""Executors: worker processes share the GPUs round-robin (or the CPU cores), start only when a cell needs them,
and the executor options are checked."""
from __future__ import annotations

import os

import pytest

from metareg.errors import ConfigError
from metareg.grid import executors
from metareg.grid.executors import ProcessExecutor, SerialExecutor, make_executor


def test_workers_take_one_gpu_each_round_robin_when_there_are_several(monkeypatch):
    monkeypatch.setattr(executors, "gpu_count", lambda device: 2 if device in (None, "auto", "cuda") else 0)
    pool = ProcessExecutor(3, "auto")
    assert pool.gpus == [0, 1, 0] and pool.threads is None
    assert pool.free() == 3 and pool.workers == [None, None, None]  # nothing started before a cell needs it
    pool.close()


def test_cpu_workers_split_the_cores_and_a_named_device_is_left_alone():
    assert executors.gpu_count("cuda:1") == 0 and executors.gpu_count("cpu") == 0  # never spread over GPUs
    pool = ProcessExecutor(2, "cpu")
    assert pool.gpus == [None, None] and pool.threads == max(1, (os.cpu_count() or 1) // 2)


def test_executor_options_are_checked():
    assert isinstance(make_executor("local"), SerialExecutor)
    with pytest.raises(ConfigError, match="--workers 0"):
        make_executor("local", workers=0)
    with pytest.raises(ConfigError, match="--ray-address is for --executor ray"):
        make_executor("local", ray_address="auto")
