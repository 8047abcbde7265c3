"""Stored models removed on request, keeping each leaderboard row's best.

Why here: "best" is a leaderboard notion (a row is a combination with its seeds pooled, ranked by the test
metric's direction), so the board decides which weights are worth keeping; the results themselves stay.
"""
from __future__ import annotations

from pathlib import Path

from metareg.board.build import combination_key
from metareg.run.files import model_path
from metareg.toolkit.metrics import HIGHER_IS_BETTER, task_metric_name

#: what ``metareg runs prune --keep-models`` accepts
KEEP = ("all", "best", "none")


def prune_models(store, keep: str) -> list[Path]:
    """Delete stored models, keeping ``all``, ``none``, or the ``best`` run of each leaderboard row (combination,
    seeds pooled: its best seed by the test metric's direction); returns the files deleted. Results stay."""
    if keep not in KEEP:
        from metareg.errors import ConfigError

        raise ConfigError(f"--keep-models must be one of {', '.join(KEEP)}, got {keep!r}")
    if keep == "all":
        return []
    store_dir = store.files_dir
    rows = [r for r in store.runs(status="done") if model_path(store_dir, r.id).is_file()]
    kept: set[int] = set()
    if keep == "best":
        best: dict[str, tuple[float, int]] = {}
        for r in rows:
            if not r.metrics:
                continue
            name = task_metric_name(r.metrics)
            value = r.metrics[name]
            score = value["mean"] if HIGHER_IS_BETTER.get(name, True) else -value["mean"]
            key = combination_key(r.config)
            if key not in best or score > best[key][0]:
                best[key] = (score, r.id)
        kept = {run_id for _, run_id in best.values()}
    removed = []
    for r in rows:
        if r.id not in kept:
            path = model_path(store_dir, r.id)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                from metareg.errors import StoreError

                raise StoreError(f"cannot delete {path} ({exc.strerror or exc}), after deleting {len(removed)} "
                                 f"model file(s): `metareg runs prune` needs write access to {path.parent}") from None
            removed.append(path)
    return removed
