"""Where grid cells run: in this process, in worker processes on this machine, or as Ray tasks.

Every executor has the same small interface, so the runner's claim-dispatch-record loop is written once:
``free()`` (how many more cells it takes now), ``submit(key, cell, hash, claimed)``, ``wait()`` (blocks until at
least one cell ends; returns ``[(key, Outcome)]``) and ``close(stop=False)`` (``stop``: interrupt the cells still
running instead of letting workers finish; returns the ``[(key, Outcome)]`` that ended meanwhile, for the runner to
record before it releases the rest). Local executors commit a run's result from the worker into the row the runner
claimed (the store is a local file); Ray tasks may run on other machines, so they return the result and the runner
writes it.

Worker processes are started with ``spawn`` (torch and ``fork`` do not mix), each with ``cores // workers`` torch
threads (or ``--threads``), or one GPU each when there are several (``CUDA_VISIBLE_DEVICES``, so a cell's config,
and so its identity, does not depend on which GPU ran it). Workers that share a device divide ``task_chunk=auto``'s
memory budget (``memory_budget.share_among``): all of them the CPU's, and those given one GPU that GPU's. A worker that dies (killed, out of memory) fails only the cell it held, and a
fresh worker takes its place. Workers exit when the runner that started them is gone.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from metareg.errors import ConfigError
from metareg.grid.cell import Outcome, execute_cell
from metareg.grid.cell_states import FAILED

Key = Any

#: seconds a stopping executor gives interrupted workers to leave (a torch op in flight ends first) before killing
STOP_GRACE = 30.0


class SerialExecutor:
    """One cell at a time, in this process (per-run progress bars are shown here only)."""

    commits_in_worker = True

    def __init__(self, registry=None, progress: bool = False):
        self.registry, self.progress = registry, progress
        self.job: tuple | None = None

    def free(self) -> int:
        return 0 if self.job else 1

    def submit(self, key: Key, cell, expected_hash: str, claimed: tuple[str, int] | None) -> None:
        self.job = (key, cell, expected_hash, claimed)

    def wait(self) -> list[tuple[Key, Outcome]]:
        key, cell, expected_hash, claimed = self.job
        self.job = None
        return [(key, execute_cell(cell, expected_hash, progress=self.progress, registry=self.registry,
                                   claimed=claimed))]

    def close(self, stop: bool = False) -> list[tuple[Key, Outcome]]:
        self.job = None  # a cell of this process that an interrupt cut short: nothing of it ended
        return []


def gpu_count(device: str | None) -> int:
    """GPUs to spread workers over: all that torch sees for ``auto``/``cuda``, none for ``cpu`` or a named GPU."""
    if device not in (None, "auto", "cuda"):
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def configure_worker(gpu: int | None, threads: int | None, peers: int = 1) -> None:
    """What a worker process sets before its first run: its GPU (before torch touches CUDA), its torch threads,
    and the number of processes it shares its device's memory with."""
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    import torch

    from metareg.run import memory_budget

    if threads:
        torch.set_num_threads(threads)
    memory_budget.share_among(peers)


def device_peers(gpus: list[int | None]) -> list[int]:
    """Per worker slot, how many slots share its device: every CPU worker the CPU, a GPU's workers that GPU."""
    return [gpus.count(g) for g in gpus]


def _worker_main(conn, parent: int, gpu: int | None, threads: int | None, peers: int = 1) -> None:
    """A worker process: set its GPU, threads and memory share, then run the cells it is sent until told to stop."""
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    try:  # a SIGINT (the runner stopping, or Ctrl-C in the terminal) ends the worker quietly, at any point
        configure_worker(gpu, threads, peers)
        from metareg.host.registry import Registry

        registry = Registry.load(warn=False)
        while True:
            job = conn.recv()
            if job is None:
                return
            cell, expected_hash, claimed = job
            outcome = execute_cell(cell, expected_hash, registry=registry, claimed=claimed)
            if gpu is not None and outcome.result is not None and outcome.result.device.startswith("cuda"):
                outcome.result.device = f"cuda:{gpu}"
            conn.send(outcome)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return


class _Worker:
    def __init__(self, ctx, gpu: int | None, threads: int | None, peers: int = 1):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, os.getpid(), gpu, threads, peers), daemon=True)
        self.process.start()
        child.close()
        self.key = None


class ProcessExecutor:
    """``workers`` processes on this machine, each running one cell at a time."""

    commits_in_worker = True

    def __init__(self, workers: int, device: str | None = None, threads: int | None = None):
        import multiprocessing

        self.ctx = multiprocessing.get_context("spawn")
        gpus = gpu_count(device)
        self.threads = threads or (None if gpus else max(1, (os.cpu_count() or 1) // workers))
        self.gpus = [i % gpus if gpus else None for i in range(workers)]
        self.peers = device_peers(self.gpus)
        # a slot's worker starts with the first cell it gets (a resumed grid with nothing left starts none), and a
        # dead worker's slot stays empty until a cell needs it
        self.workers: list[_Worker | None] = [None] * workers

    def free(self) -> int:
        return sum(w is None or w.key is None for w in self.workers)

    def submit(self, key: Key, cell, expected_hash: str, claimed: tuple[str, int] | None) -> None:
        idle = [i for i, w in enumerate(self.workers) if w is not None and w.key is None]
        slot = idle[0] if idle else self.workers.index(None)  # a started worker before starting another
        if self.workers[slot] is None:
            self.workers[slot] = _Worker(self.ctx, self.gpus[slot], self.threads, self.peers[slot])
        worker = self.workers[slot]
        worker.key = key
        worker.conn.send((cell, expected_hash, claimed))

    def wait(self) -> list[tuple[Key, Outcome]]:
        from multiprocessing.connection import wait

        busy = [w for w in self.workers if w is not None and w.key is not None]
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        done = []
        for i, worker in enumerate(self.workers):
            if worker is None or worker.key is None:
                continue
            if worker.conn in ready:
                try:
                    done.append((worker.key, worker.conn.recv()))
                    worker.key = None
                    continue
                except (EOFError, OSError):
                    pass  # it died while answering: handled as a death below
            if worker.conn in ready or worker.process.sentinel in ready:
                worker.process.join(5)
                error = (f"worker process died (exit code {worker.process.exitcode}) while running this cell: "
                         f"killed, or out of memory")
                done.append((worker.key, Outcome(FAILED, error=error)))
                self.workers[i] = None
        return done

    def close(self, stop: bool = False) -> list[tuple[Key, Outcome]]:
        """Let idle workers leave; with ``stop``, SIGINT the busy ones (a run in flight stops, keeping its
        checkpoint; a commit in flight completes first) and wait up to ``STOP_GRACE`` s for them to leave, only then
        terminating any left. Returns the outcomes that busy workers sent meanwhile (each committed by its worker)."""
        started = [w for w in self.workers if w is not None]
        for worker in started:
            if stop and worker.key is not None and worker.process.is_alive():
                os.kill(worker.process.pid, signal.SIGINT)
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + (STOP_GRACE if stop else 10.0)
        for worker in started:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in started:
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(5)
        ended = []
        for worker in started:
            try:
                if worker.key is not None and worker.conn.poll():
                    ended.append((worker.key, worker.conn.recv()))
            except (EOFError, OSError):
                pass
            worker.key = None
        self.workers = [None] * len(self.workers)
        return ended


class RayExecutor:
    """Each cell a Ray task: ``ray.init()`` starts a local cluster, ``address`` joins an existing one.

    A task asks for one GPU when ``device`` is ``auto``/``cuda`` and the cluster has GPUs. Tasks return their result
    and the runner writes it into the store, so workers need no access to the store's file.
    """

    commits_in_worker = False

    def __init__(self, address: str | None = None, device: str | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'metareg[ray]' (or use --executor local)") from None
        self.ray, self.address, self.device = ray, address, device
        self.task, self.slots, self.started = None, 1, False
        self.refs: dict = {}

    def _start(self) -> None:
        """Join or start the cluster when the first cell needs it (a resumed grid with nothing left starts none)."""
        ray = self.ray
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(address=self.address, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
        resources = ray.cluster_resources()
        gpus = 1 if self.device in (None, "auto", "cuda") and resources.get("GPU", 0) >= 1 else 0
        self.task = ray.remote(num_gpus=gpus, max_retries=0)(execute_cell)
        self.slots = max(1, int(resources.get("GPU" if gpus else "CPU", 1)))

    def free(self) -> int:
        return self.slots - len(self.refs)

    def submit(self, key: Key, cell, expected_hash: str, claimed: tuple[str, int] | None) -> None:
        if self.task is None:
            self._start()
        self.refs[self.task.remote(cell, expected_hash)] = key

    def wait(self) -> list[tuple[Key, Outcome]]:
        ready, _ = self.ray.wait(list(self.refs), num_returns=1)
        return self._results(ready)

    def _results(self, ready) -> list[tuple[Key, Outcome]]:
        done = []
        for ref in ready:
            key = self.refs.pop(ref)
            try:
                done.append((key, self.ray.get(ref)))
            except self.ray.exceptions.RayError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                done.append((key, Outcome(FAILED, error=f"Ray task failed: {first}")))
        return done

    def close(self, stop: bool = False) -> list[tuple[Key, Outcome]]:
        """Cancel the tasks still running; the results of those that had already ended are returned, so the
        runner stores them rather than losing finished work."""
        ended = []
        if self.refs:
            ready, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
            ended = self._results(ready)
        for ref in self.refs:
            self.ray.cancel(ref, force=True)
        self.refs.clear()
        if self.started:
            self.ray.shutdown()
        return ended


def make_executor(kind: str, *, workers: int = 1, device: str | None = None, ray_address: str | None = None,
                  registry=None, progress: bool = False, threads: int | None = None):
    """The executor that ``--executor``, ``--workers``, ``--threads`` and ``--ray-address`` ask for. ``threads``
    is each local worker's torch threads (default: the cores divided among the workers); with one worker the cells
    run in this process, which the command has already given ``threads``."""
    if workers < 1:
        raise ConfigError(f"--workers {workers}: give 1 or more worker processes")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads {threads}: give 1 or more torch threads per process")
    if kind == "ray":
        return RayExecutor(ray_address, device)
    if ray_address:
        raise ConfigError("--ray-address is for --executor ray; add --executor ray, or drop --ray-address")
    if kind != "local":
        raise ConfigError(f"--executor {kind!r}: use local (this machine, --workers N processes) or ray")
    if workers == 1:
        return SerialExecutor(registry, progress)
    return ProcessExecutor(workers, device, threads)
