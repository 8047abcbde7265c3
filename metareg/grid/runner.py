"""The grid runner: claim each cell in the store, hand it to an executor, record what came back.

Resume falls out of the store's claims: a cell whose config hash has a finished run is reported, not run again
(``rerun`` forces it; ``retry_failed`` reruns failed ones), a cell another live runner holds is left to it, and a
cell left ``running`` by a killed runner is claimed afresh. Cells are claimed one at a time, as an executor slot
frees up, so two runners on one store share a grid instead of one taking all of it. While cells run, a heartbeat
thread keeps this runner's claims fresh.

Stopping loses nothing that finished. If the runner stops (Ctrl-C, SIGTERM, an error), it first stops its
executor (workers are interrupted, and one that is committing a finished run completes that commit first: see
``metareg.run.deferred_signals``), collects what finished meanwhile, and only then releases the claims of the
cells that did not finish; a second Ctrl-C cannot cut that short. An interrupt then surfaces as
``metareg.errors.Interrupted`` with one line saying what was kept and how to resume.
"""
from __future__ import annotations

import signal
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from metareg.errors import Interrupted, MetaregError, signal_words
from metareg.grid.cell_states import BUSY, INVALID, RAN, REUSED, REUSED_FAILED, SKIPPED
from metareg.grid.expand import Plan, PlannedCell
from metareg.run import record
from metareg.run.config import to_container
from metareg.run.deferred_signals import deferred_signals
from metareg.run.files import checkpoint_path, model_path
from metareg.run.record import RunResult, versions
from metareg.store.database import HEARTBEAT_EVERY, STALE_AFTER, RunRow, Store, owner_token


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
        warned = False
        while not self.stop_event.wait(HEARTBEAT_EVERY):
            try:
                self.store.heartbeat(self.owner)
            except MetaregError as exc:  # a full disk, a lock held too long: the cells go on, said once
                if not warned:
                    warnings.warn(f"metareg: this runner's claims could not be refreshed ({exc}); runners on other "
                                  f"hosts may take its cells over after {STALE_AFTER:g} s", RuntimeWarning)
                    warned = True

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join()


class GridRunner:
    """Runs a :class:`~metareg.grid.expand.Plan` on an executor, with the store as the record and the arbiter."""

    def __init__(self, store: Store, executor, *, rerun: bool = False, retry_failed: bool = False,
                 rerun_before: float | None = None, on_start: Callable[[PlannedCell], None] | None = None,
                 on_end: Callable[[CellReport], None] | None = None):
        """``rerun_before`` (default: now): a forced ``rerun`` redoes the runs started before this time only, so
        runners started together with ``--rerun`` run each cell once between them (``Store.claim``)."""
        self.store, self.executor = store, executor
        self.rerun, self.retry_failed = rerun, retry_failed
        self.rerun_before = time.time() if rerun_before is None else rerun_before
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
                        self._collect(report, held, self.executor.wait())
        except KeyboardInterrupt as exc:
            stopped = self._stop(report, held)
            summary = stopped.summary(report, len(plan.cells), self.store, getattr(exc, "signum", signal.SIGINT))
            raise Interrupted(getattr(exc, "signum", signal.SIGINT), summary) from None
        except BaseException:
            self._stop(report, held)
            raise
        self.executor.close()
        return report

    def _collect(self, report: GridReport, held: dict, outcomes) -> None:
        for index, outcome in outcomes:
            cell, run_id = held.pop(index)
            self._record(report, self._settle(cell, run_id, outcome))

    def _stop(self, report: GridReport, held: dict) -> "Stopped":
        """Stop the executor, record what finished while it stopped, then release the claims still ``running``."""
        stopped = Stopped()
        with deferred_signals(redeliver=False):
            try:
                self._collect(report, held, self.executor.close(stop=True))
            except MetaregError as exc:  # the store cannot take what finished: said below, the claims stay dead
                stopped.store_error = str(exc)
            for cell, run_id in held.values():
                try:
                    if self.store.release(run_id):
                        stopped.released.append(cell)
                        model_path(self.store.files_dir, run_id).unlink(missing_ok=True)  # a commit cut short
                    else:
                        stopped.committed += 1  # its worker committed it while stopping
                except MetaregError as exc:
                    stopped.store_error = str(exc)
        return stopped

    def _record(self, report: GridReport, cell_report: CellReport) -> None:
        report.cells.append(cell_report)
        self.on_end(cell_report)

    def _claim(self, cell: PlannedCell, report: GridReport) -> int | None:
        claim = self.store.claim(config_hash=cell.hash, parts=cell.parts, seed=cell.seed,
                                 device=str(cell.cfg.run.device), config=to_container(cell.cfg),
                                 versions=versions(cell.selection), owner=self.owner, rerun=self.rerun,
                                 retry_failed=self.retry_failed, rerun_before=self.rerun_before)
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


@dataclass
class Stopped:
    """What a runner's stop did: the cells whose claims it released (``released``), how many runs committed while
    it stopped (``committed``), and the store's error if it could not release or record (``store_error``)."""

    released: list[PlannedCell] = field(default_factory=list)
    committed: int = 0
    store_error: str | None = None

    def summary(self, report: GridReport, total: int, store: Store, signum: int) -> str:
        """The one line an interrupted ``bench`` prints: what stopped, what is kept, how to resume."""
        stored = len(report.by_state(*RAN, REUSED, REUSED_FAILED)) + self.committed
        resumable = sum(checkpoint_path(store.files_dir, c.hash).is_file() for c in self.released)
        unfinished = ""
        if self.released:
            unfinished = (f"; {len(self.released)} unfinished run(s) stopped" + (
                f", {resumable} of them with a mid-run checkpoint to resume from" if resumable else
                ", to start over"))
        trouble = f"; but {self.store_error}" if self.store_error else ""
        return (f"interrupted by {signal_words(signum)}: {stored} of {total} run(s) are "
                f"stored in {store.path}{unfinished}{trouble}; run the same command again to go on from there")


def _from_row(cell: PlannedCell, state: str, row: RunRow) -> CellReport:
    return CellReport(cell, state, RunResult.from_row(row), row.id, row.error)
