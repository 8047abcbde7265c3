"""Executors: worker processes share the GPUs round-robin (or the CPU cores), divide the memory of the device they
share, start only when a cell needs them, and the executor options are checked."""
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
    assert pool.peers == [2, 1, 2]  # GPU 0's two workers halve its memory budget; GPU 1's has it whole
    assert pool.free() == 3 and pool.workers == [None, None, None]  # nothing started before a cell needs it
    pool.close()


def test_cpu_workers_split_the_cores_and_a_named_device_is_left_alone():
    assert executors.gpu_count("cuda:1") == 0 and executors.gpu_count("cpu") == 0  # never spread over GPUs
    pool = ProcessExecutor(2, "cpu")
    assert pool.gpus == [None, None] and pool.threads == max(1, (os.cpu_count() or 1) // 2)
    assert pool.peers == [2, 2] and ProcessExecutor(2, "cpu", threads=1).threads == 1


def test_a_worker_divides_the_automatic_memory_budget_among_the_processes_sharing_its_device(monkeypatch):
    import torch

    from metareg.run import memory_budget

    monkeypatch.setattr(memory_budget, "_meminfo", lambda key: 8000 * memory_budget.MIB)
    monkeypatch.setattr(memory_budget, "_peers", 1)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # the test process keeps its threads
    cpu = torch.device("cpu")
    alone = memory_budget.budget_bytes("auto", cpu)
    assert alone == 4000 * memory_budget.MIB  # CPU_SHARE of what is available
    executors.configure_worker(None, 1, peers=4)
    assert memory_budget.budget_bytes("auto", cpu) == alone // 4
    assert memory_budget.budget_bytes(3000, cpu) == 3000 * memory_budget.MIB  # an explicit budget is per process


def test_executor_options_are_checked():
    assert isinstance(make_executor("local"), SerialExecutor)
    with pytest.raises(ConfigError, match="--workers 0"):
        make_executor("local", workers=0)
    with pytest.raises(ConfigError, match="--ray-address is for --executor ray"):
        make_executor("local", ray_address="auto")
    with pytest.raises(ConfigError, match="--threads 0: give 1 or more"):
        make_executor("local", workers=2, threads=0)
