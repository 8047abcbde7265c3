"""The grid runner: claim each cell in the store, hand it to an executor, record what came back.

Resume falls out of the store's claims: a cell whose config hash has a finished run is reported, not run again
(``rerun`` forces it; ``retry_failed`` reruns failed ones), a cell another live runner holds is left to it, and a
cell left ``running`` by a killed runner is claimed afresh. Cells are claimed one at a time, as an executor slot
frees up, so two runners on one store share a grid instead of one taking all of it. While cells run, a heartbeat
thread keeps this runner's claims fresh; if the runner stops (Ctrl-C, an error), it releases the claims it holds.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from metareg.grid.cell_states import BUSY, INVALID, REUSED, REUSED_FAILED, SKIPPED
from metareg.grid.expand import Plan, PlannedCell
from metareg.run import record
from metareg.run.config import to_container
from metareg.run.record import RunResult, versions
from metareg.store.database import HEARTBEAT_EVERY, RunRow, Store, owner_token


@dataclass
class CellReport:
    """How one cell ended this pass: ``state`` is one of ``metareg.grid.cell_states``. A cell a run settled, this
    pass or an earlier one, has its run's ``result``; ``run_id`` and ``error`` say the rest (the row another runner
    holds, why a cell was skipped or is invalid)."""

    cell: PlannedCell
    state: str
    result: RunResult | None = None
    run_id: int | None = None
    error: str | None = None

    def as_result(self) -> RunResult:
        """The cell as a ``RunResult``, for the tables and JSON lines ``bench`` prints."""
        if self.result is not None:
            return self.result
        return RunResult(self.cell.hash, self.cell.parts, self.cell.seed, "", self.state, 0.0, error=self.error,
                         run_id=self.run_id)


@dataclass
class GridReport:
    cells: list[CellReport] = field(default_factory=list)
    abandoned: int = 0  # rows of killed runners that this pass redid

    def by_state(self, *states: str) -> list[CellReport]:
        return [c for c in self.cells if c.state in states]


class Heartbeat:
    """Refreshes this runner's claims every ``HEARTBEAT_EVERY`` seconds while cells run."""

    def __init__(self, store: Store, owner: str):
        self.store, self.owner, self.stop_event = store, owner, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="metareg-heartbeat")

    def _beat(self) -> None:
        while not self.stop_event.wait(HEARTBEAT_EVERY):
            self.store.heartbeat(self.owner)

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join()


class GridRunner:
    """Runs a :class:`~metareg.grid.expand.Plan` on an executor, with the store as the record and the arbiter."""

    def __init__(self, store: Store, executor, *, rerun: bool = False, retry_failed: bool = False,
                 on_start: Callable[[PlannedCell], None] | None = None,
                 on_end: Callable[[CellReport], None] | None = None):
        self.store, self.executor = store, executor
        self.rerun, self.retry_failed = rerun, retry_failed
        self.on_start = on_start or (lambda cell: None)
        self.on_end = on_end or (lambda report: None)
        self.owner = owner_token()

    def run(self, plan: Plan) -> GridReport:
        report = GridReport()
        queue = deque(plan.cells)
        held: dict[int, tuple[PlannedCell, int]] = {}  # cell index -> (cell, claimed run id)
        try:
            with Heartbeat(self.store, self.owner):
                while queue or held:
                    while queue and self.executor.free() > 0:
                        cell = queue.popleft()
                        run_id = self._claim(cell, report)
                        if run_id is not None:
                            held[cell.index] = (cell, run_id)
                            self.on_start(cell)
                            claimed = (str(self.store.path), run_id) if self.executor.commits_in_worker else None
                            self.executor.submit(cell.index, cell.cell, cell.hash, claimed)
                    if held:
                        for index, outcome in self.executor.wait():
                            cell, run_id = held.pop(index)
                            self._record(report, self._settle(cell, run_id, outcome))
        finally:
            for cell, run_id in held.values():  # stopped early: what did not finish is not a result
                self.store.release(run_id)
            self.executor.close()
        return report

    def _record(self, report: GridReport, cell_report: CellReport) -> None:
        report.cells.append(cell_report)
        self.on_end(cell_report)

    def _claim(self, cell: PlannedCell, report: GridReport) -> int | None:
        claim = self.store.claim(config_hash=cell.hash, parts=cell.parts, seed=cell.seed,
                                 device=str(cell.cfg.run.device), config=to_container(cell.cfg),
                                 versions=versions(cell.selection), owner=self.owner, rerun=self.rerun,
                                 retry_failed=self.retry_failed)
        report.abandoned += claim.abandoned
        if claim.state == "claimed":
            return claim.run_id
        if claim.state == "busy":
            self._record(report, CellReport(cell, BUSY, run_id=claim.row.id, error=f"held by {claim.row.owner}"))
        else:
            self._record(report, _from_row(cell, REUSED if claim.state == "done" else REUSED_FAILED, claim.row))
        return None

    def _settle(self, cell: PlannedCell, run_id: int, outcome) -> CellReport:
        """Commit what a worker returned (unless it committed it itself) and describe it."""
        if outcome.state in (SKIPPED, INVALID):
            self.store.release(run_id)
            return CellReport(cell, outcome.state, error=outcome.error)
        result = outcome.result
        if not outcome.committed and result is not None:
            record.commit(self.store, run_id, result, model=outcome.model)
        elif not outcome.committed:
            record.commit_failure(self.store, run_id, outcome.error, outcome.wall_time)
        if result is None:  # the run never started (a part's constructor crashed, the worker died)
            result = RunResult(cell.hash, cell.parts, cell.seed, "", "failed", outcome.wall_time, error=outcome.error)
        result.run_id = run_id
        return CellReport(cell, result.status, result, run_id, result.error)


def _from_row(cell: PlannedCell, state: str, row: RunRow) -> CellReport:
    return CellReport(cell, state, RunResult.from_row(row), row.id, row.error)
