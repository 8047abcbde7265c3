"""The headroom view: a shift benchmark's oracle and source-test rows join their baseline's section, and each
adversary row shows its share of the gap closed, or "no headroom" where the gap is within the seeds' spread."""
from __future__ import annotations

import json

import pytest

from helpers.boards import run_config, store_run
from metareg.board.build import build_board
from metareg.board.report import render
from metareg.store.database import Store

BENCH = "digits-shift"


def _config(learner, adversary, seed, **domains):
    config = run_config(learner, adversary, seed, benchmark=BENCH)
    config["benchmark"][BENCH].update({"test_domain": "target", "train_domain": "source", **domains})
    return config


def _store(tmp_path, oracle_means, baseline_means=(0.50, 0.52, 0.48), dann_means=(0.56, 0.58, 0.54)):
    store = Store(tmp_path)
    for seed in range(3):
        store_run(store, _config("protonet", None, seed), [baseline_means[seed]] * 4)
        store_run(store, _config("protonet", "dann", seed), [dann_means[seed]] * 4)
        store_run(store, _config("protonet", None, seed, train_domain="target"), [oracle_means[seed]] * 4)
        store_run(store, _config("protonet", None, seed, test_domain="source"), [0.9] * 4)
    return build_board(store.runs(), store_path=store.path)


def test_oracle_and_source_test_rows_sit_in_the_baseline_section_unranked(tmp_path):
    board = _store(tmp_path, oracle_means=(0.70, 0.72, 0.68))
    (section,) = board.sections
    ranked = {e.label: e.rank for e in section.entries}
    assert ranked["protonet"] is not None and ranked["protonet + dann"] is not None
    assert ranked[f"protonet [benchmark.{BENCH}.train_domain=target]"] is None
    assert ranked[f"protonet [benchmark.{BENCH}.test_domain=source]"] is None
    assert "**0.900" not in render(board, "md")  # the best mean in bold is a method's, never a reference's


def test_the_share_of_the_gap_closed_is_the_gain_over_the_oracle_gain(tmp_path):
    board = _store(tmp_path, oracle_means=(0.70, 0.72, 0.68))
    (view,) = board.sections[0].headroom
    assert view.gap == pytest.approx(0.20) and view.spread == pytest.approx(0.02)
    assert view.source_test.estimate.mean == pytest.approx(0.9)
    (dann,) = view.variants
    assert dann.share == pytest.approx(0.06 / 0.20)
    assert dann.per_seed == pytest.approx({0: 0.06, 1: 0.06, 2: 0.06})
    text = render(board, "md")
    assert "### Headroom" in text and "+30%" in text and "0: +0.060, 1: +0.060, 2: +0.060" in text


def test_a_gap_within_the_seeds_spread_says_no_headroom_instead_of_a_share(tmp_path):
    board = _store(tmp_path, oracle_means=(0.51, 0.55, 0.47))  # +0.01 against a spread of 0.04
    (view,) = board.sections[0].headroom
    assert view.no_headroom and view.variants[0].share is None
    assert "no headroom" in render(board, "md")
    (record,) = json.loads(render(board, "json"))["sections"][0]["headroom"]
    assert record["no_headroom"] is True and record["rows"][0]["share_of_gap_closed"] is None


def test_reference_rows_compete_for_no_bold_cell_in_the_ranking_or_the_curve_table(tmp_path):
    from metareg.board.report import curve_table, section_table

    store = Store(tmp_path)
    rows = [((), None, 0.50, 0.80), ((("train_domain", "target"),), None, 0.70, 0.99),
            ((("test_domain", "source"),), None, 0.90, 0.98), ((), "dann", 0.56, 0.85)]
    for seed in range(2):
        for domains, adversary, test, val in rows:
            store_run(store, _config("protonet", adversary, seed, **dict(domains)), [test] * 4,
                      history=[{"iteration": 10, "val_accuracy": val}])
    (section,) = build_board(store.runs(), store_path=store.path).sections
    def bold_cells(table):  # (adversary, settings) -> the row's bold cells
        return {(r[3].text, r[5].text): [c.text for c in r if c.bold] for r in table[1]}

    ranking, curves = bold_cells(section_table(section)), bold_cells(curve_table(section))
    for domain in ("train_domain=target", "test_domain=source"):
        assert ranking[("—", f"benchmark.{BENCH}.{domain}")] == [] and curves[("—", f"benchmark.{BENCH}.{domain}")] == []
    assert curves[("dann", "")] == ["0.850"]  # the best method's, below both references' 0.98 and 0.99
    assert ranking[("dann", "")][0].startswith("0.560")  # the best method's mean, below the source test's 0.900


def test_two_adversary_rows_that_differ_in_a_setting_read_apart_in_the_headroom_table(tmp_path):
    store = Store(tmp_path)
    for seed in range(3):
        store_run(store, _config("protonet", None, seed), [0.50] * 4)
        store_run(store, _config("protonet", None, seed, train_domain="target"), [0.70] * 4)
        for lam, mean in ((1.0, 0.60), (0.3, 0.55)):
            config = _config("protonet", "dann", seed)
            config["adversary"] = {"dann": {"lambda_max": lam}}
            store_run(store, config, [mean] * 4)
    board = build_board(store.runs(), store_path=store.path)
    text = render(board, "md")
    assert "| dann [adversary.dann.lambda_max=1.0] | +0.100 |" in text
    assert "| dann [adversary.dann.lambda_max=0.3] | +0.050 |" in text
    (record,) = json.loads(render(board, "json"))["sections"][0]["headroom"]
    assert {r["settings"]: r["delta"] for r in record["rows"]} == pytest.approx(
        {"adversary.dann.lambda_max=0.3": 0.05, "adversary.dann.lambda_max=1.0": 0.10})


def test_runs_stored_before_the_domain_settings_pool_with_runs_that_carry_their_defaults(tmp_path):
    """A run without the keys (made before they existed) and one with them at their defaults are one combination."""
    store = Store(tmp_path)
    store_run(store, run_config("protonet", None, 0, benchmark=BENCH), [0.5] * 4)
    store_run(store, _config("protonet", None, 1), [0.6] * 4)
    board = build_board(store.runs())
    (section,) = board.sections
    (entry,) = section.entries
    assert sorted(entry.seeds) == [0, 1] and not section.headroom


def test_a_board_without_domain_rows_renders_as_before(tmp_path):
    store = Store(tmp_path)
    for seed in range(2):
        store_run(store, run_config("protonet", None, seed, benchmark=BENCH), [0.5] * 4)
        store_run(store, run_config("protonet", "dann", seed, benchmark=BENCH), [0.6] * 4)
    board = build_board(store.runs())
    assert "Headroom" not in render(board, "md") and "Headroom" not in render(board, "html")
    assert "headroom" not in json.loads(render(board, "json"))["sections"][0]
