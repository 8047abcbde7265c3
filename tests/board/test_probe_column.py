"""The board's probe column: the held-out probe accuracy, mean over seeds, shown only where a run has one."""
from __future__ import annotations

from helpers.boards import run_config, store_run
from metareg.board.build import build_board
from metareg.board.report import PROBE_HEADER, records, render
from metareg.store.database import Store
from metareg.toolkit.metrics import PROBE


def _with_probe(store, learner, adversary, seed, value):
    run_id = store_run(store, run_config(learner, adversary, seed), [0.5])
    row = store.get(run_id)
    store.finish(run_id, status="done", wall_time=1.0,
                 metrics={**row.metrics, PROBE: {"mean": value, "ci95": 0.02, "n": 10, "seconds": 0.1}})


def test_the_probe_column_averages_the_seeds_and_ranks_by_the_task_metric(tmp_path):
    store = Store(tmp_path)
    for seed, value in ((0, 0.80), (1, 0.90)):
        _with_probe(store, "protonet", None, seed, value)
        _with_probe(store, "protonet", "dann", seed, value - 0.1)
    board = build_board(store.runs())
    (section,) = board.sections
    assert section.metric == "accuracy"
    by_adversary = {r["adversary"]: r["probe_domain_accuracy"] for r in records(board)}
    assert abs(by_adversary[None] - 0.85) < 1e-9 and abs(by_adversary["dann"] - 0.75) < 1e-9
    text = render(board, "md")
    assert PROBE_HEADER in text and "| 0.85 |" in text and "| 0.75 |" in text


def test_a_board_without_probes_has_no_probe_column(tmp_path):
    store = Store(tmp_path)
    store_run(store, run_config("protonet", None, 0), [0.5])
    assert PROBE_HEADER not in render(build_board(store.runs()), "md")
