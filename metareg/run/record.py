"""A run's record, and the one place a run's outcome is written into the store.

Why one place: an outcome reaches the store three ways: ``Run.execute`` given a store (a single run), a worker
committing into the row its runner claimed (the serial and process executors, where the store is a local file),
and the runner committing what a remote worker sent back (Ray). All three call ``commit``, so a finished row
always has its model file written before it and its resume checkpoint removed after it, whoever ran it. Deciding
who runs a cell (claim, heartbeat, release) is the runner's; what a run produced is written here.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass, field

import torch

from metareg.run import checkpoints
from metareg.run.config import Selection, to_container
from metareg.run.files import checkpoint_path, model_path
from metareg.run.models import write_model


@dataclass
class RunResult:
    """What a run produced; ``metrics`` maps a name to ``{"mean", "ci95", "n"}`` over test tasks."""

    config_hash: str
    parts: dict[str, str | None]
    seed: int
    device: str
    status: str
    wall_time: float
    metrics: dict[str, dict] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    error: str | None = None
    run_id: int | None = None
    #: settings the run resolved itself (``train.task_chunk=auto``'s chunk), merged into its stored config
    resolved: dict[str, dict] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "config_hash": self.config_hash,
            "parts": self.parts,
            "seed": self.seed,
            "device": self.device,
            "status": self.status,
            "wall_time": round(self.wall_time, 3),
            "metrics": self.metrics,
            "error": self.error,
            "resolved": self.resolved,
            # the last logged training entry: the learner's and adversary's metrics (e.g. the domain accuracy)
            "last_logged": self.history[-1] if self.history else None,
        }

    @classmethod
    def from_row(cls, row) -> "RunResult":
        """A stored run (``metareg.store.database.RunRow``) as the record a fresh run gives."""
        return cls(row.config_hash, row.parts, row.seed, row.device or "", row.status, row.wall_time or 0.0,
                   row.metrics or {}, row.history or [], row.error, row.id)


def versions(selection: Selection) -> dict[str, str]:
    import metareg

    out = {"metareg": metareg.__version__, "torch": torch.__version__, "python": platform.python_version()}
    for section, info in selection.items():
        out[f"{section}:{info.name}"] = f"{info.distribution} {info.version}".strip()
    return out


def start(store, run) -> int:
    """A ``running`` row for ``run`` (a ``metareg.run.engine.Run`` made outside a grid), its id."""
    return store.start(config_hash=run.hash, parts=run.parts, seed=run.seed, device=str(run.device),
                       config=to_container(run.cfg), versions=versions(run.selection))


def commit(store, run_id: int, result: RunResult, *, model: dict | bytes | None = None) -> None:
    """``result`` into row ``run_id``: its model file first (a ``done`` run's weights, as a state or as the bytes a
    remote worker sent), then the row with the device the run really used, then its resume checkpoint goes."""
    store_dir = store.path.parent
    if result.status == "done" and model is not None:
        write_model(model, model_path(store_dir, run_id))
    store.finish(run_id, status=result.status, wall_time=result.wall_time, metrics=result.metrics,
                 history=result.history, error=result.error, device=result.device, resolved=result.resolved)
    checkpoints.remove(checkpoint_path(store_dir, result.config_hash))  # the run has its outcome


def commit_failure(store, run_id: int, error: str | None, wall_time: float) -> None:
    """Row ``run_id`` failed before a run could produce a result (a part's constructor crashed, a worker died)."""
    store.finish(run_id, status="failed", wall_time=wall_time, error=error)
