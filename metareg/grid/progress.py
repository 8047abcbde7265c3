"""How a grid shows its progress: a bar on a terminal, one plain line per event in a log, nothing with ``--quiet``.

On a terminal the grid bar (cells done, failures) sits above the current run's own bar (the engine's); in a log (CI,
a file, a pipe) carriage-return bars are unreadable, so each cell gets a ``started`` line and an end line instead.
Everything goes to stderr; stdout is kept for results (tables, JSON lines).
"""
from __future__ import annotations

import sys
from typing import TextIO

from metareg.grid.cell_states import BUSY, DONE, FAILED, INVALID, REUSED, REUSED_FAILED, SKIPPED
from metareg.grid.expand import PlannedCell
from metareg.grid.runner import CellReport
from metareg.toolkit.stats import Estimate


def progress_mode(quiet: bool, stream: TextIO | None = None) -> str:
    """``quiet``, ``bar`` (a terminal) or ``lines`` (anything else)."""
    if quiet:
        return "quiet"
    stream = stream or sys.stderr
    return "bar" if hasattr(stream, "isatty") and stream.isatty() else "lines"


def describe(report: CellReport) -> str:
    """One line on how a cell ended, e.g. ``done in 12.3 s: mse 0.394 ± 0.039 (n=600)``."""
    result = report.result
    metrics = "; ".join(f"{name} {Estimate(m['mean'], m['ci95'], m['n']).format(4)}"
                        for name, m in (result.metrics if result else {}).items())
    wall = f"{result.wall_time:.1f} s" if result is not None else "?"
    return {
        DONE: f"done in {wall}: {metrics}",
        FAILED: f"FAILED after {wall}: {report.error}",
        REUSED: f"already done (run {report.run_id}): {metrics}",
        REUSED_FAILED: f"failed before (run {report.run_id}: {report.error}); --retry-failed runs it again",
        BUSY: f"left to another runner (run {report.run_id}, {report.error})",
        SKIPPED: f"skipped: {report.error}",
    }[report.state]


class GridProgress:
    def __init__(self, total: int, mode: str, stream: TextIO | None = None):
        self.total, self.mode, self.stream = total, mode, stream or sys.stderr
        self.counts: dict[str, int] = {}
        self.bar = None
        if mode == "bar" and total > 1:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="grid", unit="cell", file=self.stream, dynamic_ncols=True, position=0)

    def _say(self, text: str) -> None:
        if self.mode == "quiet":
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def _prefix(self, cell: PlannedCell) -> str:
        return f"[{cell.index + 1}/{self.total}] {cell.label}"

    def started(self, cell: PlannedCell) -> None:
        if self.mode == "lines":
            self._say(f"{self._prefix(cell)}: started")

    def ended(self, report: CellReport) -> None:
        self.counts[report.state] = self.counts.get(report.state, 0) + 1
        if report.state != INVALID:  # a config error is said once, as an error line, when the grid ends
            self._say(f"{self._prefix(report.cell)}: {describe(report)}")
        if self.bar is not None:
            self.bar.set_postfix({k: v for k, v in self.counts.items()}, refresh=False)
            self.bar.update(1)

    def note(self, text: str) -> None:
        self._say(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
