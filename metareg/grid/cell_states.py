"""How a grid cell can end a runner's pass, declared once.

The executor's outcome, the runner's cell report, the progress lines, the JSON lines and the closing summary all
speak of these states; each reads them here. (A stored row's status, ``done``, ``failed`` or ``running``, is the
store's vocabulary: a cell that ran ends ``done`` or ``failed`` like its row.)
"""
from __future__ import annotations

DONE = "done"  # ran in this pass and finished
FAILED = "failed"  # ran in this pass and failed
REUSED = "reused"  # a finished run of this cell was already in the store
REUSED_FAILED = "reused-failed"  # a failed run of this cell was already in the store (``--retry-failed`` reruns it)
BUSY = "busy"  # another live runner holds the cell
SKIPPED = "skipped"  # the parts cannot make a run (found when building)
INVALID = "invalid"  # the config is wrong for this cell

#: the cells this pass ran
RAN = (DONE, FAILED)
#: the cells whose finished run was already stored
KEPT = (REUSED, REUSED_FAILED)
#: the cells with a stored result, from this pass or an earlier one
FINISHED = RAN + KEPT
#: how the closing summary names each state, in the order it lists them
SUMMARY_WORDS = {DONE: "done", FAILED: "failed", REUSED: "already done", REUSED_FAILED: "failed before",
                 BUSY: "left to another runner", SKIPPED: "skipped", INVALID: "with config errors"}
