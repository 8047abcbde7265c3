"""Where a run's files live beside its results store, decided in one place: its model and its mid-run checkpoint.

``store_dir`` is the folder that holds ``results.sqlite`` (``Store.path.parent``). A model is keyed by the run's row
id (one finished run, one file); a checkpoint by the run's identity (its config hash), because a resumed run gets a
new row but is the same run.
"""
from __future__ import annotations

from pathlib import Path


def model_path(store_dir: str | Path, run_id: int) -> Path:
    return Path(store_dir) / "models" / f"run-{run_id}.pt"


def checkpoint_path(store_dir: str | Path, config_hash: str) -> Path:
    return Path(store_dir) / "checkpoints" / f"{config_hash}.pt"
