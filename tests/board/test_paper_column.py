"""A suite's ``paper:`` block: each published value lands on the row of the cells it names, with Δ vs paper and
whether the intervals overlap, in every format; an entry that names no cell, or two entries on one cell, is an
error naming the entry before anything runs; a suite without the block reports exactly as before."""
from __future__ import annotations

import csv
import io
import json

import pytest

from metareg.errors import ConfigError
from metareg.grid.expand import expand
from metareg.grid.paper import PaperValue, match_paper
from metareg.grid.suites import load_suite

SUITE = """
description: a tiny suite with published values
settings:
  train: {meta_iterations: 3, val_every: 0, test_tasks: 6, eval_batch_size: 3}
grid:
  - benchmark: sinusoid
    learner: maml
    seeds: 0-1
    settings: {learner: {maml: {test_inner_steps: 1}}}
  - benchmark: sinusoid
    learner: maml
    seeds: 0-1
    settings: {learner: {maml: {test_inner_steps: 2}}}
  - benchmark: sinusoid
    learner: finetune
    seeds: 0
"""

PAPER = """
paper:
  - name: MAML, one step
    where: {learner: maml, settings: {learner: {maml: {test_inner_steps: 1}}}}
    value: 0.5
    ci95: 0.1
    source: A. Author 2017, Table 9
    protocol: one step at test
  - name: MAML, two steps
    where: {learner: maml, settings: {learner: {maml: {test_inner_steps: 2}}}}
    value: 1.0e+6
    source: A. Author 2017, Table 9
"""


def _suite(tmp_path, text: str):
    path = tmp_path / "papered.yaml"
    path.write_text(text)
    return path


def test_a_paper_entry_that_matches_no_cell_is_an_error_naming_the_entry(run_cli, tmp_path, registry):
    wrong = PAPER.replace("test_inner_steps: 2}}}}\n    value", "test_inner_steps: 7}}}}\n    value")
    path = _suite(tmp_path, SUITE + wrong)
    suite = load_suite(str(path))
    plan = expand(registry, suite.blocks)
    with pytest.raises(ConfigError, match=r"paper entry 2 \('MAML, two steps'\) matches no cell.*"
                                          r"learner.maml.test_inner_steps=7"):
        match_paper(suite.paper, plan.cells, "suite")
    code, _, err = run_cli("bench", "--suite", str(path), "--quiet")
    assert code == 2 and "paper entry 2 ('MAML, two steps') matches no cell" in err
    assert not (tmp_path / "store").exists()  # found before the store was made, so before any run
    # the grid narrowed beside the suite: the entry that names no remaining cell is simply not shown
    assert match_paper(suite.paper, [c for c in plan.cells if c.parts["learner"] == "finetune"], "s",
                       strict=False) == {}


def test_two_entries_on_one_cell_are_an_error(registry, tmp_path):
    both = PAPER.replace("test_inner_steps: 2}}}}\n    value", "test_inner_steps: 1}}}}\n    value")
    suite = load_suite(str(_suite(tmp_path, SUITE + both)))
    with pytest.raises(ConfigError, match="'MAML, one step' and 'MAML, two steps' both match maml on sinusoid"):
        match_paper(suite.paper, expand(registry, suite.blocks).cells, "suite")


@pytest.mark.parametrize("entry,message", [
    ("  - {where: {learner: maml}, source: x}", "paper entry 1 has no 'value'"),
    ("  - {where: {learner: maml}, value: 1}", "paper entry 1 has no 'source'"),
    ("  - {where: {learner: maml}, value: 1, source: x, ci: 2}", "unknown key 'ci'; did you mean 'ci95'"),
    ("  - {where: {learnr: maml}, value: 1, source: x}", "where: unknown key 'learnr'; did you mean 'learner'"),
    ("  - {where: {learner: maml}, value: one, source: x}", "value must be a finite number, got 'one'"),
    ("  - {where: {learner: maml}, value: 1, ci95: 1, std: 1, source: x}", "gives both ci95 and std"),
    ("  - {where: {learner: maml}, value: 1, ci95: -1, source: x}", "ci95 must be at least 0"),
])
def test_a_malformed_paper_entry_names_its_problem(tmp_path, entry, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_suite(str(_suite(tmp_path, SUITE + "paper:\n" + entry + "\n")))


def test_overlap_compares_both_intervals_or_our_interval_with_a_bare_value():
    bare = PaperValue("v", (), (), 0.35)
    assert bare.overlaps(0.40, 0.06) and not bare.overlaps(0.40, 0.04)
    with_ci = PaperValue("v", (), (), 0.35, ci95=0.02)
    assert with_ci.overlaps(0.40, 0.04) and not with_ci.overlaps(0.40, 0.02)
    assert PaperValue("v", (), (), 0.35, std=0.1).text == "0.35 ± 0.1 (sd)" and with_ci.text == "0.35 ± 0.02 (95% CI)"


def test_the_board_puts_each_published_value_on_its_rows_in_every_format(run_cli, tmp_path):
    path = _suite(tmp_path, SUITE + PAPER)
    assert run_cli("bench", "--suite", str(path), "--quiet")[0] == 0
    code, out, _ = run_cli("leaderboard", "--suite", str(path), "--format", "json")
    rows = {r["settings"]: r for s in json.loads(out)["sections"] for r in s["rows"]}
    one = next(r for k, r in rows.items() if "test_inner_steps=1" in k and r["learner"] == "maml")
    two = next(r for k, r in rows.items() if "test_inner_steps=2" in k and r["learner"] == "maml")
    finetune = next(r for r in rows.values() if r["learner"] == "finetune")
    assert one["paper_value"] == 0.5 and one["paper_ci95"] == 0.1 and one["paper_name"] == "MAML, one step"
    assert one["delta_vs_paper"] == pytest.approx(one["mean"] - 0.5)
    assert one["overlaps_paper"] == (abs(one["mean"] - 0.5) <= one["ci95"] + 0.1)
    assert two["paper_value"] == 1e6 and two["overlaps_paper"] is False  # no MSE comes near a million
    assert finetune["paper_value"] is None and finetune["delta_vs_paper"] is None
    code, out, _ = run_cli("leaderboard", "--suite", str(path))
    assert "| paper | Δ vs paper | intervals overlap |" in out and "### Published values" in out
    assert "- MAML, one step: 0.5 ± 0.1 (95% CI). A. Author 2017, Table 9. one step at test" in out
    assert f"| 1e+06 | {two['delta_vs_paper']:+.3f} | no |" in out
    code, out, _ = run_cli("leaderboard", "--suite", str(path), "--format", "csv")
    header = next(csv.reader(io.StringIO(out)))
    assert {"paper_value", "delta_vs_paper", "overlaps_paper", "paper_source"} <= set(header)
    code, out, _ = run_cli("leaderboard", "--suite", str(path), "--format", "html")
    assert "<th>Δ vs paper</th>" in out and "A. Author 2017, Table 9" in out


def test_a_suite_without_a_paper_block_reports_no_paper_columns(run_cli, tmp_path):
    path = _suite(tmp_path, SUITE)
    assert run_cli("bench", "--suite", str(path), "--quiet", "--learner", "finetune")[0] == 0
    code, out, _ = run_cli("leaderboard", "--suite", str(path), "--format", "json")
    assert not any(key.startswith("paper") for s in json.loads(out)["sections"] for r in s["rows"] for key in r)
    code, out, _ = run_cli("leaderboard", "--suite", str(path))
    assert "Δ vs paper" not in out and "Published values" not in out


def test_every_shipped_suites_paper_entries_name_cells_of_its_own_grid(registry):
    from metareg.grid.suites import available_suites

    papered = [name for name in available_suites() if load_suite(name).paper]
    assert "maml-sinusoid" in papered
    for name in papered:
        suite = load_suite(name)
        found = match_paper(suite.paper, expand(registry, suite.blocks).cells, name)
        assert set(found.values()) == set(suite.paper)  # every entry has cells
