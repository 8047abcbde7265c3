"""A run's record, and the one place a run's outcome is written into the store.

Why one place: an outcome reaches the store three ways: ``Run.execute`` given a store (a single run), a worker
committing into the row its runner claimed (the serial and process executors, where the store is a local file),
and the runner committing what a remote worker sent back (Ray). All three call ``commit``, so a finished row
always has its model file written before it and its resume checkpoint removed after it, whoever ran it. Deciding
who runs a cell (claim, heartbeat, release) is the runner's; what a run produced is written here.

A commit loses nothing a run computed: SIGINT and SIGTERM wait until it is over (``deferred_signals``); a model
that cannot be written (an unwritable folder, a full disk) leaves the result stored and says so in
``RunResult.model_error``, which the command turns into one line and a non-zero exit; a row that cannot be written
takes the model file just written with it, so no model is left without its run.
"""
from __future__ import annotations

import platform
import warnings
from dataclasses import dataclass, field

import torch

from metareg.run import checkpoints
from metareg.run.config import Selection, to_container
from metareg.run.deferred_signals import deferred_signals
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
    #: why a done run's model file could not be written (its result is stored all the same), else None
    model_error: str | None = None
    #: wall seconds per phase (``metareg.run.phases``: setup, train, val, test); empty for a stored run without it
    phases: dict[str, float] = field(default_factory=dict)

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
            "model_error": self.model_error,
            "phases": self.phases,
            # the last logged training entry: the learner's and adversary's metrics (e.g. the domain accuracy)
            "last_logged": self.history[-1] if self.history else None,
        }

    @classmethod
    def from_row(cls, row) -> "RunResult":
        """A stored run (``metareg.store.database.RunRow``) as the record a fresh run gives."""
        return cls(row.config_hash, row.parts, row.seed, row.device or "", row.status, row.wall_time or 0.0,
                   row.metrics or {}, row.history or [], row.error, row.id, phases=row.phases or {})


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
    store_dir = store.files_dir
    with deferred_signals():
        written = None
        if result.status == "done" and model is not None:
            path = model_path(store_dir, run_id)
            try:
                written = write_model(model, path)
            except OSError as exc:
                result.model_error = (f"run {run_id}'s model could not be written to {path} ({exc.strerror or exc}); "
                                      f"its result is stored, but `metareg predict --run {run_id}` has no weights "
                                      f"to load: free space or make {path.parent} writable, then `metareg bench "
                                      f"--rerun` the cell")
        try:
            store.finish(run_id, status=result.status, wall_time=result.wall_time, metrics=result.metrics,
                         history=result.history, error=result.error, device=result.device, resolved=result.resolved,
                         phases=result.phases or None)
        except BaseException:
            if written is not None:  # no model file for a row that did not commit
                written.unlink(missing_ok=True)
            raise
        _remove_checkpoint(checkpoint_path(store_dir, result.config_hash))  # the run has its outcome


def _remove_checkpoint(path) -> None:
    try:
        checkpoints.remove(path)
    except OSError as exc:
        warnings.warn(f"metareg: the finished run's checkpoint {path} could not be deleted ({exc.strerror or exc}); "
                      f"it is never loaded again, and can be deleted by hand", RuntimeWarning, stacklevel=3)


def commit_failure(store, run_id: int, error: str | None, wall_time: float) -> None:
    """Row ``run_id`` failed before a run could produce a result (a part's constructor crashed, a worker died)."""
    with deferred_signals():
        store.finish(run_id, status="failed", wall_time=wall_time, error=error)
