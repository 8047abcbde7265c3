"""Mid-run checkpoints: a killed run resumes where it was and ends exactly as an uninterrupted one would.

Why: the grid resumes at cell granularity, so a run killed after 3 hours of a 4-hour budget used to restart from
zero. Every ``train.checkpoint_every`` outer updates (a multiple of the logging interval, so no partial sums of the
logged metrics are in flight) the engine saves what the rest of the run depends on: the weights of the learner and
adversary, the optimiser's state, the best-so-far validation score and weights, the history, the chunk size the
memory probe chose, and every random state the loop reads (torch's global generator, the CUDA generators, the
episode and target-pool generators, and a generator's own streams where it has ``get_rng_state``). On the CPU with
the same seed a resumed run ends with the same test metric to the last digit (``tests/run/test_checkpoints.py`` kills
a run with SIGKILL to show it). The file is keyed by the run's identity (``metareg.run.files.checkpoint_path``),
so the next run of the same cell finds it, written atomically (a temporary file, then a rename) so a kill while
saving leaves the previous checkpoint intact, and deleted once the run has an outcome. A file that cannot be read,
is of another format or belongs to another run is ignored with a warning and never loaded.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from metareg.run.models import serialised
from metareg.toolkit.atomic import write_atomic

FORMAT = 1


def save(path: Path, state: dict[str, Any]) -> bool:
    """Write the checkpoint whole or not at all; False (with a warning) when the disk is full or the folder is not
    writable: the run goes on, it only could not be resumed from this point."""
    data = serialised({"format": FORMAT, **state})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError as exc:
        warnings.warn(f"metareg: checkpoint {path} could not be written ({exc.strerror or exc}); the run goes on, "
                      f"but if it is stopped it resumes from its last checkpoint that was written", RuntimeWarning,
                      stacklevel=2)
        return False
    return True


def load(path: Path, config_hash: str, device: torch.device) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it is a readable one of this run, else None (with a warning if one was there)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # empty, truncated, corrupt, foreign, unreadable
        first = next(iter(str(exc).strip().splitlines()), "")[:120]
        return _ignored(path, f"it cannot be read ({type(exc).__name__}{': ' + first if first else ''})")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return _ignored(path, f"it is not a metareg checkpoint of format {FORMAT}")
    if state.get("config_hash") != config_hash:
        return _ignored(path, f"it belongs to run {state.get('config_hash')!r}, not {config_hash!r}")
    missing = [k for k in ("iteration", "learner", "optimiser", "history", "rng") if k not in state]
    if missing:
        return _ignored(path, f"it lacks {', '.join(missing)}")
    return state


def remove(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def rng_states(device: torch.device, **generators: torch.Generator) -> dict[str, Any]:
    out: dict[str, Any] = {"torch": torch.get_rng_state(), **{k: g.get_state() for k, g in generators.items()}}
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng(states: dict[str, Any], device: torch.device, **generators: torch.Generator) -> None:
    torch.set_rng_state(states["torch"].cpu())
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])
    for k, g in generators.items():
        g.set_state(states[k].cpu())


def _ignored(path: Path, why: str) -> None:
    warn_ignored(path, why)
    return None


def warn_ignored(path: Path, why: str) -> None:
    """Say that the checkpoint at ``path`` is not used, and why: the run starts from the beginning."""
    warnings.warn(f"metareg: checkpoint {path} ignored: {why}; the run starts from the beginning", RuntimeWarning,
                  stacklevel=4)
