"""A finished run's meta-trained weights kept as a file beside its store.

Why: the weights are what a run is for. Kept, a run can be evaluated again, and ``metareg predict`` can adapt it to
a user's few labelled images. The file holds the weights the run selected on validation (those it was tested
with) of every part that has any: the learner (its backbone inside it) and the adversary. A generator keeps its
own checkpoint (MT-GAN: ``<store>/generators/``), which ``load_run`` reuses. The resolved config and versions are
in the run's row, so the file holds weights only. It is written atomically (a temporary file, then a rename), so a
killed run never leaves half a model under the run's name.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from metareg.toolkit.atomic import write_atomic

#: what the file's ``format`` says; a file of another format is refused with a clear error
FORMAT = 1


def model_state(run) -> dict:
    """``run``'s current weights (the selected ones, after ``execute``), as the file holds them."""
    state = {"format": FORMAT, "config_hash": run.hash, "learner": run.learner.state_dict()}
    if run.adversary is not None:
        state["adversary"] = run.adversary.state_dict()
    return state


def model_bytes(run) -> bytes:
    """The model file's bytes, for a worker that cannot write the store's folder (a Ray task): the runner writes
    them with ``write_model``."""
    return serialised(model_state(run))


def serialised(state: dict) -> bytes:
    """``torch.save``'s bytes of ``state``, made in memory: so the write that follows can fail only as the file
    system's ``OSError`` (a full disk), never half-way through torch's own writer."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def write_model(state: dict | bytes, path: Path) -> Path:
    """Write the model file (serialised in memory first, so the only failure left is the file system's OSError)."""
    if not isinstance(state, bytes):
        state = serialised(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, state)
    return path


def read_model(path: Path, device: torch.device, config_hash: str | None = None) -> dict:
    """The saved state at ``path``; a ``ValueError`` naming the file when it is not one of ours, or (given the
    run's ``config_hash``) when it holds another run's weights: a file under a run's name is never trusted blindly,
    since a file of another store, or a copied folder, may sit there."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated, foreign, or from a newer torch
        raise ValueError(f"{path} is not a readable metareg model ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a metareg model of format {FORMAT}")
    if config_hash is not None and state.get("config_hash") != config_hash:
        raise ValueError(f"{path} holds the weights of another run (config {state.get('config_hash')}, not "
                         f"{config_hash}): another store in the same folder wrote it, or the folder was copied "
                         f"from elsewhere")
    return state
