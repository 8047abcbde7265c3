"""Where a run's files live beside its results store, decided in one place: its model and its mid-run checkpoint.

``store_dir`` is the folder of the store's own files (``Store.files_dir``: the folder of ``DIR/results.sqlite``,
``PATH.files`` beside any other store file), so two stores in one folder keep apart. A model is keyed by the run's
row id (one finished run, one file); a checkpoint by the run's identity (its config hash), because a resumed run
gets a new row but is the same run.
"""
from __future__ import annotations

from pathlib import Path


def model_path(store_dir: str | Path, run_id: int) -> Path:
    return Path(store_dir) / "models" / f"run-{run_id}.pt"


def checkpoint_path(store_dir: str | Path, config_hash: str) -> Path:
    return Path(store_dir) / "checkpoints" / f"{config_hash}.pt"


def stored_model(store, run_id: int) -> Path:
    """The model file of ``store``'s run ``run_id``: in the store's own folder, or, for a store not named
    ``results.sqlite`` written before stores kept their files apart, in ``models/`` beside it (whose owner only
    the config hash inside it can tell: ``metareg.run.models.read_model`` checks it)."""
    own = model_path(store.files_dir, run_id)
    legacy = model_path(store.path.parent, run_id)
    return legacy if not own.is_file() and legacy != own and legacy.is_file() else own
