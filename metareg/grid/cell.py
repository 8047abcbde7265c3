"""What a worker does with one grid cell, wherever it runs (this process, a worker process, a Ray task).

The worker gets the cell as plain values and rebuilds the run itself, so nothing unpicklable crosses a process
boundary. It re-derives the cell's config hash and refuses to run a config that differs from the one the runner
claimed (a worker with other plugin versions would otherwise store results under the wrong identity). It never
raises for a cell's own problems: the answer is an :class:`Outcome` that the runner records, and the grid goes on.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from metareg.grid.cell_states import FAILED, INVALID, SKIPPED
from metareg.run.engine import RunResult


@dataclass
class Outcome:
    """``state`` (``metareg.grid.cell_states``): ``DONE`` or ``FAILED`` (a run happened; ``result`` says how, ``error`` why
    it failed), ``SKIPPED`` (the parts cannot be combined: ``error`` says why) or ``INVALID`` (the user's config is
    wrong for this cell).
    ``committed`` is True when the worker already wrote the result into the claimed store row."""

    state: str
    result: RunResult | None = None
    error: str | None = None
    wall_time: float = 0.0
    committed: bool = False
    #: a finished run's model file, when the worker could not write it beside the store itself (``run_models``)
    model: bytes | None = None


class ClaimedRow:
    """The store as ``Run.execute`` sees it when the runner has already claimed the row: ``start`` hands back the
    claim, ``finish`` commits into it (with the device the run really used), before observers hear of the run."""

    def __init__(self, store_path: str | Path, run_id: int):
        from metareg.store.database import Store

        self.store, self.run_id, self.device = Store(store_path), run_id, None
        self.path = self.store.path  # the engine keeps per-store files (generator checkpoints) beside it

    def start(self, *, device: str, **_recorded_at_claim) -> int:
        self.device = device
        return self.run_id

    def finish(self, run_id: int, **fields) -> None:
        self.store.finish(run_id, device=self.device, **fields)


def execute_cell(cell, expected_hash: str, *, progress: bool = False, registry=None,
                 claimed: tuple[str, int] | None = None) -> Outcome:
    """Resolve, build and run one cell; ``claimed`` = (store path, run id) commits the result from here."""
    from metareg.run.config import config_hash, resolve
    from metareg.run.engine import Run
    from metareg.errors import IncompatibleError, MetaregError
    from metareg.host.registry import Registry

    start = time.perf_counter()
    try:
        registry = registry or Registry.load(warn=False)
        cfg, selection = resolve(registry, cell.settings, cell.selector_dict())
        actual = config_hash(cfg, selection)
        if actual != expected_hash:
            return Outcome(INVALID, error=(
                f"this worker resolves the cell to config {actual}, the runner to {expected_hash}: the worker's "
                f"metareg or plugins differ from the runner's; install the same versions on both"))
        run = Run(cfg, selection, registry)
    except IncompatibleError as exc:
        return Outcome(SKIPPED, error=str(exc))
    except MetaregError as exc:
        return Outcome(INVALID, error=str(exc))
    except Exception as exc:  # a part's constructor crashed: the cell failed, the grid goes on
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Outcome(FAILED, error=error, wall_time=time.perf_counter() - start)
    sink = ClaimedRow(*claimed) if claimed else None
    result = run.execute(progress=progress, store=sink)
    model = None
    if sink is None and result.status == "done":  # the runner stores the weights, as it stores the result
        from metareg.run.models import model_bytes

        model = model_bytes(run)
    return Outcome(result.status, result=result, error=result.error, wall_time=result.wall_time,
                   committed=sink is not None, model=model)
