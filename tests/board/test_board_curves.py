"""``metareg leaderboard --curves``: each row's validation metric by outer update, the mean over its finished seeds
at the iterations they all validated at, where it is best in the metric's direction, a note for the iterations
left out, the same numbers in JSON, and every output without ``--curves`` exactly what it was before."""
from __future__ import annotations

import hashlib
import json
import math
import re


import metareg.board.build
from metareg.board.build import build_board, validation_curve
from metareg.board.report import render, to_csv, to_html, to_json, to_markdown

from helpers.boards import run_config, store_run
from helpers.boards import Page

#: (learner, adversary) -> (test episodes, {seed: {iteration: val_accuracy}}); maml's seed 0 also validated at
#: 400, which its seed 1 did not reach; reptile's runs never validated; a failed versa run is added beside them
GLYPHS = {
    ("protonet", None): ([0.62, 0.66], {0: {100: 0.50, 200: 0.60, 300: 0.70}, 1: {100: 0.40, 200: 0.70, 300: 0.75}}),
    ("maml", None): ([0.70, 0.74], {0: {100: 0.30, 200: 0.50, 300: 0.80, 400: 0.90},
                                    1: {100: 0.20, 200: 0.60, 300: 0.70}}),
    ("maml", "dann"): ([0.58, 0.60], {0: {100: 0.35, 200: 0.55, 300: 0.45}, 1: {100: 0.25, 200: 0.65, 300: 0.55}}),
    ("reptile", None): ([0.50, 0.52], {0: {}, 1: {}}),
}
#: learner -> (test episodes, {iteration: val_mse}) of one seed on sinusoid, where lower is better
SINUSOID = {
    "maml": ([0.50, 0.60], {50: 0.90, 100: 0.40, 150: 0.50}),
    "reptile": ([0.30, 0.20], {50: 0.80, 100: 0.70, 150: 0.30}),
}


def history(points: dict[int, float], key: str) -> list[dict]:
    """A run's log: training-loss entries every 50 updates, ``key`` only at the validation points."""
    out = {i: {"iteration": i, "train_loss": 1.0} for i in (50, 150, 250)}
    for i, value in points.items():
        out[i] = {"iteration": i, "train_loss": 0.5, key: value}
    return [out[i] for i in sorted(out)]


def build(folder):
    from metareg.store.database import Store

    store = Store(folder)
    for (learner, adversary), (values, seeds) in GLYPHS.items():
        for seed, points in seeds.items():
            store_run(store, run_config(learner, adversary, seed, benchmark="glyphs"), values,
                       history=history(points, "val_accuracy"))
    store_run(store, run_config("versa", None, 0, benchmark="glyphs"), None)
    for learner, (values, points) in SINUSOID.items():
        store_run(store, run_config(learner, None, 0, benchmark="sinusoid"), values, metric="mse",
                   history=history(points, "val_mse"))
    return store


def board_of(folder):
    board = build_board(build(folder).runs(), title="curves board")
    board.footer = FOOTER
    return board


FOOTER = {"versions": {"torch": ["x"]}, "commit": "abc123", "store": None, "generated": "2024-01-01 00:00:00 UTC"}

#: ``to_markdown`` of ``build``'s board as it was before ``--curves`` existed (footer fixed)
BEFORE_MD = """# curves board

## glyphs

Test accuracy (higher is better) on the benchmark's test episodes (its target domain where it has one): mean ± Student-t 95% CI over every seed's episodes (n episodes). Baseline: the same learner with no adversary and no generator; Δ = mean − baseline mean. Bold: best in its column.

| rank | learner | backbone | adversary | generator | accuracy ↑ (mean ± 95% CI) | n | baseline | Δ vs baseline | runs | failed | wall s/run |
|---|---|---|---|---|---|---|---|---|---|---|---|
| 1 | maml | conv4 | — | — | **0.720 ± 0.037** | 4 | (this row) | — | 2 | 0 | 2.5 |
| 2 | protonet | conv4 | — | — | 0.640 ± 0.037 | 4 | (this row) | — | 2 | 0 | 2.5 |
| 3 | maml | conv4 | dann | — | 0.590 ± 0.018 | 4 | 0.720 ± 0.037 | -0.130 | 2 | 0 | 2.5 |
| 4 | reptile | conv4 | — | — | 0.510 ± 0.018 | 4 | (this row) | — | 2 | 0 | 2.5 |
| — | versa | conv4 | — | — | — | — | (this row) | — | 0 | 1 | — |

- failed: versa: FloatingPointError: loss became nan

## sinusoid

Test mse (lower is better) on the benchmark's test episodes (its target domain where it has one): mean ± Student-t 95% CI over every seed's episodes (n episodes). Baseline: the same learner with no adversary and no generator; Δ = mean − baseline mean. Bold: best in its column.

| rank | learner | backbone | adversary | generator | mse ↓ (mean ± 95% CI) | n | baseline | Δ vs baseline | runs | failed | wall s/run |
|---|---|---|---|---|---|---|---|---|---|---|---|
| 1 | reptile | conv4 | — | — | **0.250 ± 0.635** | 2 | (this row) | — | 1 | 0 | 2.0 |
| 2 | maml | conv4 | — | — | 0.550 ± 0.635 | 2 | (this row) | — | 1 | 0 | 2.0 |

---

Runs made with torch x.
Report generated 2024-01-01 00:00:00 UTC from metareg commit abc123.
"""
#: sha256 of ``to_json`` and ``to_csv`` of the same board before ``--curves`` existed
BEFORE_JSON = "57a4a46287366943633c7d9620d0f256a1d65cdf4553b9554a2be0bf8c3172d5"
BEFORE_CSV = "210ccd31eb06234abb37ceb80903ecc3fc30f03c05f8b054f9db416b73ec0157"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _mean(values) -> float:
    return math.fsum(values) / len(values)


def test_without_curves_every_format_is_byte_for_byte_what_it_was(tmp_path):
    board = board_of(tmp_path / "store")
    assert to_markdown(board) == render(board, "md", curves=False) == BEFORE_MD
    assert _sha(to_json(board)) == _sha(render(board, "json", curves=False)) == BEFORE_JSON
    assert _sha(to_csv(board)) == _sha(render(board, "csv", curves=True)) == BEFORE_CSV  # CSV never has curves
    assert to_html(board) == render(board, "html", curves=False)


def test_the_cli_without_curves_prints_what_it_did_before(run_cli, tmp_path, monkeypatch):
    build(tmp_path / "store")
    monkeypatch.setattr(metareg.board.build, "footer", lambda rows, path: dict(FOOTER))
    code, out, err = run_cli("leaderboard", "--title", "curves board")
    assert code == 0, err
    assert out == BEFORE_MD
    for fmt, before in (("json", BEFORE_JSON), ("csv", BEFORE_CSV)):
        code, out, _ = run_cli("leaderboard", "--title", "curves board", "--format", fmt)
        assert code == 0 and _sha(out) == before


def test_each_cell_is_the_mean_over_the_rows_finished_seeds_at_that_iteration(tmp_path):
    board = board_of(tmp_path / "store")
    glyphs = json.loads(to_json(board, curves=True))["sections"][0]
    assert [(c["learner"], c["adversary"]) for c in glyphs["curves"]] == [
        (r["learner"], r["adversary"]) for r in glyphs["rows"]]  # the ranking table's rows, in its order
    curves = {(c["learner"], c["adversary"]): c for c in glyphs["curves"]}
    for key, (_, seeds) in GLYPHS.items():
        shared = sorted(set.intersection(*(set(points) for points in seeds.values())))
        assert curves[key]["iterations"] == shared
        assert curves[key]["means"] == [_mean([points[i] for points in seeds.values()]) for i in shared]
    assert curves[("versa", None)] == {"learner": "versa", "backbone": "conv4", "adversary": None, "generator": None,
                                       "settings": "", "iterations": [], "means": [], "best_at": None,
                                       "dropped_iterations": []}
    text = to_markdown(board, curves=True)
    assert "### Validation accuracy by outer update" in text and "### Validation mse by outer update" in text
    table = text.split("### Validation accuracy by outer update")[1].split("## sinusoid")[0]
    assert [line for line in table.splitlines() if line.startswith("|")] == [
        "| rank | learner | backbone | adversary | generator | 100 | 200 | 300 | best at |",
        "|---|---|---|---|---|---|---|---|---|",
        "| 1 | maml | conv4 | — | — | 0.250 | 0.550 | **0.750** | 300 |",
        "| 2 | protonet | conv4 | — | — | **0.450** | **0.650** | 0.725 | 300 |",
        "| 3 | maml | conv4 | dann | — | 0.300 | 0.600 | 0.500 | 200 |",
        "| 4 | reptile | conv4 | — | — | — | — | — | — |",
        "| — | versa | conv4 | — | — | — | — | — | — |",
    ]
    # the curves come after each ranking table and its failures, and change nothing else
    assert text.index("- failed: versa") < text.index("### Validation accuracy")
    assert re.sub(r"### Validation .*?\n\n(?=## |---\n)", "", text, flags=re.S) == BEFORE_MD


def test_iterations_only_some_seeds_logged_are_left_out_and_said_so(tmp_path):
    board = board_of(tmp_path / "store")
    text = to_markdown(board, curves=True)
    note = ("Left out, as not every finished seed of the row validated there (each row shows only the iterations "
            "all its seeds share): maml (400).")
    assert text.count(note) == 1
    last_row = text.index("| — | versa | conv4 | — | — | — | — | — | — |")
    assert last_row < text.index(note) < text.index("## sinusoid")  # under the glyphs curve table
    assert text.count("Left out, as not") == 1  # sinusoid's rows lost nothing
    [maml] = [c for c in json.loads(to_json(board, curves=True))["sections"][0]["curves"]
              if (c["learner"], c["adversary"]) == ("maml", None)]
    assert maml["dropped_iterations"] == [400] and 400 not in maml["iterations"]
    # a seed that never validated leaves its row nothing shared: every iteration is dropped
    curve = validation_curve([[{"iteration": 10, "val_accuracy": 0.5}], [{"iteration": 10, "train_loss": 1.0}]],
                             "val_accuracy", True)
    assert (curve.iterations, curve.means, curve.dropped, curve.best_at) == ([], [], [10], None)


def test_best_at_follows_the_metric_direction(tmp_path):
    board = board_of(tmp_path / "store")
    sinusoid = json.loads(to_json(board, curves=True))["sections"][1]
    assert sinusoid["metric"] == "mse" and sinusoid["higher_is_better"] is False
    assert {c["learner"]: c["best_at"] for c in sinusoid["curves"]} == {"maml": 100, "reptile": 150}  # the lowest
    table = to_markdown(board, curves=True).split("### Validation mse by outer update")[1]
    assert "(lower is better)" in table.split("|")[0]
    assert "| 1 | reptile | conv4 | — | — | **0.800** | 0.700 | **0.300** | 150 |" in table  # bold: lowest
    assert "| 2 | maml | conv4 | — | — | 0.900 | **0.400** | 0.500 | 100 |" in table
    points = [[{"iteration": i, "val_x": v} for i, v in ((1, 0.2), (2, 0.5), (3, 0.5), (4, 0.3))]]
    assert validation_curve(points, "val_x", True).best_at == 2  # the earliest of equal bests
    assert validation_curve(points, "val_x", False).best_at == 1
    assert validation_curve(points, "val_x", None).best_at is None  # a metric with no known direction


def test_a_board_where_nothing_validated_says_so_instead_of_an_empty_table(tmp_path):
    from metareg.store.database import Store

    store = Store(tmp_path)
    store_run(store, run_config("maml", None, 0), [0.5, 0.6], history=history({}, "val_accuracy"))
    text = to_markdown(build_board(store.runs()), curves=True)
    after = text.split("### Validation accuracy by outer update")[1]
    assert "No row has a validation accuracy logged by all its finished seeds" in after
    assert "best at" not in after


def test_html_with_curves_keeps_its_plots_and_adds_the_same_table(tmp_path):
    board = board_of(tmp_path / "store")
    plain, page = Page(), Page()
    plain.feed(to_html(board))
    page.feed(to_html(board, curves=True))
    assert not page.external and page.images == plain.images  # the same plots, learning curves included
    assert ["1", "maml", "conv4", "—", "—", "0.250", "0.550", "0.750", "300"] in page.rows
    assert len(page.rows) == 2 * len(plain.rows)  # each table's header and rows once more


SUITE = """
description: curves on a tiny suite
settings:
  train: {meta_iterations: 3, val_every: 3, val_tasks: 2, test_tasks: 6, eval_batch_size: 3}
grid:
  - benchmark: sinusoid
    learner: [maml, finetune]
    seeds: 0-1
"""


def test_suite_and_curves_together_show_the_suites_cells_with_their_validation(run_cli, tmp_path):
    from metareg.store.database import Store

    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    code, _, err = run_cli("bench", "--suite", str(suite), "--learner", "maml", "--quiet")
    assert code == 0, err
    code, out, err = run_cli("leaderboard", "--suite", str(suite), "--curves", "--format", "json")
    assert code == 0, err
    [section] = json.loads(out)["sections"]
    assert section["metric"] == "mse" and section["higher_is_better"] is False
    curves = {c["learner"]: c for c in section["curves"]}
    runs = Store(tmp_path / "store").runs(status="done")
    logged = [next(e["val_mse"] for e in r.history if "val_mse" in e) for r in runs]
    assert len(logged) == 2 and curves["maml"]["iterations"] == [3] and curves["maml"]["best_at"] == 3
    assert curves["maml"]["means"] == [_mean(logged)]
    assert curves["finetune"]["iterations"] == [] and curves["finetune"]["best_at"] is None  # not run yet
    code, out, _ = run_cli("leaderboard", "--suite", str(suite), "--curves")
    assert "### Validation mse by outer update" in out
    assert f"| 1 | maml | mlp | — | — | {_mean(logged):.3f} | 3 |" in out
    assert "| — | finetune | mlp | — | — | — | — |" in out.split("### Validation mse by outer update")[1]
    code, out, _ = run_cli("leaderboard", "--suite", str(suite), "--format", "md,json")
    assert "Validation mse" not in out and '"curves"' not in out


def test_curves_go_into_the_files_written_with_out(run_cli, tmp_path):
    build(tmp_path / "store")
    code, _, err = run_cli("leaderboard", "--curves", "--format", "md,csv,json", "--out", str(tmp_path / "report"))
    assert code == 0, err
    assert "### Validation accuracy by outer update" in (tmp_path / "report" / "leaderboard.md").read_text()
    assert "curves" in json.loads((tmp_path / "report" / "leaderboard.json").read_text())["sections"][0]
    assert "val_" not in (tmp_path / "report" / "leaderboard.csv").read_text()
