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

from metareg.grid.cell_states import FAILED, INVALID, SKIPPED
from metareg.run.record import RunResult


@dataclass
class Outcome:
    """``state`` (``metareg.grid.cell_states``): ``DONE`` or ``FAILED`` (a run happened; ``result`` says how,
    ``error`` why it failed), ``SKIPPED`` (the parts cannot be combined: ``error`` says why) or ``INVALID`` (the
    user's config is wrong for this cell).
    ``committed`` is True when the worker wrote the outcome into the row its runner claimed (``metareg.run.record``);
    otherwise the runner commits it."""

    state: str
    result: RunResult | None = None
    error: str | None = None
    wall_time: float = 0.0
    committed: bool = False
    #: a finished run's model file, for a runner that commits what the worker could not write beside the store
    model: bytes | None = None


def execute_cell(cell, expected_hash: str, *, progress: bool = False, registry=None,
                 claimed: tuple[str, int] | None = None) -> Outcome:
    """Resolve, build and run one cell; ``claimed`` = (store path, run id) commits the outcome from here."""
    from metareg.errors import IncompatibleError, MetaregError, StoreError
    from metareg.host.registry import Registry
    from metareg.run.config import config_hash, resolve
    from metareg.run.engine import Run

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
    if claimed:
        from metareg.store.database import Store

        path, run_id = claimed
        try:
            result = run.execute(progress=progress, store=Store(path), run_id=run_id)
        except StoreError as exc:  # the outcome could not be stored here: the runner tries, and says why if it cannot
            return Outcome(FAILED, error=str(exc), wall_time=time.perf_counter() - start)
        return Outcome(result.status, result=result, error=result.error, wall_time=result.wall_time, committed=True)
    result = run.execute(progress=progress)
    model = None
    if result.status == "done":  # the runner stores the weights, as it stores the result
        from metareg.run.models import model_bytes

        model = model_bytes(run)
    return Outcome(result.status, result=result, error=result.error, wall_time=result.wall_time, model=model)
