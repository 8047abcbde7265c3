"""A finished run's meta-trained weights kept as a file beside its store, and removed again on request.

Why: the weights are what a run is for. Kept, a run can be evaluated again, and ``metareg predict`` can adapt it to
a user's few labelled images. The file holds the weights the run selected on validation (those it was tested
with) of every part that has any: the learner (its backbone inside it) and the adversary. A generator keeps its
own checkpoint (MT-GAN: ``<store>/generators/``), which ``load_run`` reuses. The resolved config and versions are
in the run's row, so the file holds weights only. It is written atomically (a temporary file, then a rename), so a
killed run never leaves half a model under the run's name.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import torch

#: what the file's ``format`` says; a file of another format is refused with a clear error
FORMAT = 1
KEEP = ("all", "best", "none")


def model_state(run) -> dict:
    """``run``'s current weights (the selected ones, after ``execute``), as the file holds them."""
    state = {"format": FORMAT, "config_hash": run.hash, "learner": run.learner.state_dict()}
    if run.adversary is not None:
        state["adversary"] = run.adversary.state_dict()
    return state


def save_model(run, path: Path) -> Path:
    """Write ``run``'s weights to ``path``."""
    return write_model(model_state(run), path)


def model_bytes(run) -> bytes:
    """The model file's bytes, for a worker that cannot write the store's folder (a Ray task): the runner writes
    them with ``write_model``."""
    buffer = io.BytesIO()
    torch.save(model_state(run), buffer)
    return buffer.getvalue()


def write_model(state: dict | bytes, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(state, bytes):
        tmp.write_bytes(state)
    else:
        torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def read_model(path: Path, device: torch.device) -> dict:
    """The saved state at ``path``; a ``ValueError`` naming the file when it is not one of ours."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated, foreign, or from a newer torch
        raise ValueError(f"{path} is not a readable metareg model ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a metareg model of format {FORMAT}")
    return state


def prune_models(store, keep: str) -> list[Path]:
    """Delete stored models, keeping ``all``, ``none``, or the ``best`` run of each leaderboard row (combination,
    seeds pooled: its best seed by the test metric's direction); returns the files deleted. Results stay."""
    from metareg.board import combination_key
    from metareg.metrics import HIGHER_IS_BETTER
    from metareg.run_files import model_path

    if keep not in KEEP:
        from metareg.errors import ConfigError

        raise ConfigError(f"--keep-models must be one of {', '.join(KEEP)}, got {keep!r}")
    if keep == "all":
        return []
    store_dir = store.path.parent
    rows = [r for r in store.runs(status="done") if model_path(store_dir, r.id).is_file()]
    kept: set[int] = set()
    if keep == "best":
        best: dict[str, tuple[float, int]] = {}
        for r in rows:
            if not r.metrics:
                continue
            name, value = next(iter(r.metrics.items()))
            score = value["mean"] if HIGHER_IS_BETTER.get(name, True) else -value["mean"]
            key = combination_key(r.config)
            if key not in best or score > best[key][0]:
                best[key] = (score, r.id)
        kept = {run_id for _, run_id in best.values()}
    removed = []
    for r in rows:
        if r.id not in kept:
            path = model_path(store_dir, r.id)
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
