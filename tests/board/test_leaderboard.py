"""The leaderboard's numbers: seeds pooled exactly, the baseline beside each row, ranks in the metric's direction,
the latest run of a cell counting once, a suite's unfinished cells shown as missing, and every number equal to what
a direct computation from the store gives."""
from __future__ import annotations

import json
import math
import random

import pytest

from metareg.board.build import build_board, pool
from metareg.store.database import Store
from metareg.toolkit.stats import Estimate, mean_ci95

from helpers.runs import TINY
from helpers.boards import run_config, store_run


def test_pooling_runs_gives_the_statistics_of_all_their_episodes():
    rng = random.Random(0)
    runs = [[rng.gauss(mu, 0.3) for _ in range(n)] for mu, n in ((0.5, 40), (0.7, 25), (0.2, 1), (0.6, 2))]
    pooled = pool([mean_ci95(values) for values in runs])
    direct = mean_ci95([v for values in runs for v in values])
    assert pooled.n == direct.n == 68
    assert math.isclose(pooled.mean, direct.mean, rel_tol=1e-12)
    assert math.isclose(pooled.ci95, direct.ci95, rel_tol=1e-9)
    assert pool([Estimate(0.4, None, 1)]) == Estimate(0.4, None, 1)


@pytest.fixture
def synthetic_store(tmp_path):
    store = Store(tmp_path)
    rng = random.Random(1)
    episodes = {}
    for learner, adversary, centre in (("protonet", None, 0.60), ("protonet", "dann", 0.66), ("maml", None, 0.70),
                                       ("maml", "dann", 0.64)):
        for seed in (0, 1):
            values = [min(1.0, max(0.0, rng.gauss(centre, 0.1))) for _ in range(30)]
            episodes.setdefault((learner, adversary), []).extend(values)
            store_run(store, run_config(learner, adversary, seed), values)
    store_run(store, run_config("versa", None, 0), None)
    return store, episodes


def test_rows_pool_seeds_pair_baselines_and_rank_in_the_metric_direction(synthetic_store):
    store, episodes = synthetic_store
    [section] = build_board(store.runs()).sections
    rows = {(e.parts["learner"], e.parts["adversary"]): e for e in section.entries}
    for key, values in episodes.items():
        direct = mean_ci95(values)
        assert rows[key].estimate.n == 60 and math.isclose(rows[key].estimate.mean, direct.mean, rel_tol=1e-12)
        assert math.isclose(rows[key].estimate.ci95, direct.ci95, rel_tol=1e-9)
        assert sorted(rows[key].seeds) == [0, 1] and rows[key].wall_time == 2.5
    assert rows[("maml", "dann")].baseline is rows[("maml", None)]
    assert math.isclose(rows[("protonet", "dann")].delta,
                        mean_ci95(episodes[("protonet", "dann")]).mean - mean_ci95(episodes[("protonet", None)]).mean)
    order = sorted(episodes, key=lambda k: -mean_ci95(episodes[k]).mean)
    assert [rows[k].rank for k in order] == [1, 2, 3, 4]
    assert [(e.parts["learner"], e.parts["adversary"]) for e in section.entries[:4]] == order
    versa = rows[("versa", None)]
    assert versa.estimate is None and versa.rank is None and versa.failed == 1 and "loss became nan" in versa.errors[0]


def test_lower_is_better_metrics_rank_the_smallest_first(tmp_path):
    store = Store(tmp_path)
    for learner, centre in (("maml", 0.5), ("reptile", 0.3), ("finetune", 2.0)):
        store_run(store, run_config(learner, None, 0, benchmark="sinusoid"), [centre, centre + 0.1, centre - 0.1],
                   metric="mse")
    [section] = build_board(store.runs()).sections
    assert section.higher_is_better is False
    assert [(e.parts["learner"], e.rank) for e in section.entries] == [("reptile", 1), ("maml", 2), ("finetune", 3)]


def test_a_rerun_replaces_the_earlier_result_of_its_cell(tmp_path):
    store = Store(tmp_path)
    config = run_config("maml", None, 0)
    store_run(store, config, [0.1, 0.2])
    store_run(store, config, [0.8, 0.9])  # same config hash: the latest counts, once
    [section] = build_board(store.runs()).sections
    [entry] = section.entries
    assert entry.runs == 1 and math.isclose(entry.estimate.mean, 0.85)


def test_different_settings_of_one_combination_are_separate_labelled_rows(tmp_path):
    store = Store(tmp_path)
    store_run(store, run_config("maml", None, 0, meta_iterations=10), [0.5, 0.6])
    store_run(store, run_config("maml", None, 0, meta_iterations=99), [0.7, 0.8])
    [section] = build_board(store.runs()).sections
    assert sorted(e.settings for e in section.entries) == ["train.meta_iterations=10", "train.meta_iterations=99"]


def test_markdown_bolds_the_best_and_lists_failures(synthetic_store):
    from metareg.board.report import to_markdown

    store, episodes = synthetic_store
    text = to_markdown(build_board(store.runs()))
    best = mean_ci95(episodes[("maml", None)])
    assert f"**{best.mean:.3f} ± {best.ci95:.3f}**" in text
    worst = mean_ci95(episodes[("protonet", None)])
    assert f"| {worst.mean:.3f} ± {worst.ci95:.3f} |" in text
    assert "- failed: versa: FloatingPointError: loss became nan" in text


def test_the_domain_discriminator_accuracy_is_the_mean_over_seeds_of_the_last_quarter_of_training(tmp_path):
    from metareg.board.report import DOMAIN_HEADER, records, to_markdown

    store = Store(tmp_path)
    curves = {0: [0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.52, 0.48], 1: [0.95, 0.9, 0.8, 0.7, 0.62, 0.6, 0.58, 0.56]}
    for seed, curve in curves.items():
        history = [{"iteration": 50 * (i + 1), "train_loss": 1.0, "adversary_domain_accuracy": v}
                   for i, v in enumerate(curve)]
        store_run(store, run_config("protonet", "dann", seed), [0.5, 0.6], history=history)
        store_run(store, run_config("protonet", None, seed), [0.6, 0.7], history=[{"iteration": 50, "train_loss": 1.0}])
    board = build_board(store.runs())
    rows = {e.parts["adversary"]: e for e in board.sections[0].entries}
    expected = ((0.52 + 0.48) / 2 + (0.58 + 0.56) / 2) / 2  # 8 log entries per run: the last 2 of each
    assert math.isclose(rows["dann"].domain_accuracy, expected) and rows[None].domain_accuracy is None
    text = to_markdown(board)
    assert DOMAIN_HEADER in text and f"| {expected:.2f} |" in text
    assert {r["adversary"]: r["domain_accuracy"] for r in records(board)} == {"dann": rows["dann"].domain_accuracy,
                                                                              None: None}
    assert DOMAIN_HEADER not in to_markdown(build_board([r for r in store.runs() if r.adversary is None]))


def test_leaderboard_numbers_equal_a_direct_computation_from_the_store(run_cli, tmp_path):
    code, _, err = run_cli("bench", "--learner", "maml,finetune", "--benchmark", "sinusoid-shift",
                           "--adversary", "none,dann", "--seeds", "0-1", "--quiet", *TINY)
    assert code == 0, err
    code, out, _ = run_cli("leaderboard", "--format", "json")
    assert code == 0
    [section] = json.loads(out)["sections"]
    assert section["metric"] == "mse" and section["higher_is_better"] is False and len(section["rows"]) == 4
    runs = Store(tmp_path / "store").runs(status="done")
    for row in section["rows"]:
        mine = [r for r in runs if (r.learner, r.adversary) == (row["learner"], row["adversary"])]
        stats = [r.metrics["mse"] for r in mine]
        total = sum(s["n"] for s in stats)
        assert row["n"] == total == 12 and row["runs"] == 2 and sorted(row["seeds"]) == [0, 1]
        assert math.isclose(row["mean"], sum(s["n"] * s["mean"] for s in stats) / total, rel_tol=1e-12)
        assert math.isclose(row["ci95"], pool([Estimate(s["mean"], s["ci95"], s["n"]) for s in stats]).ci95)
        assert math.isclose(row["wall_time"], sum(r.wall_time for r in mine) / 2)
        if row["adversary"]:
            base = next(b for b in section["rows"] if b["learner"] == row["learner"] and not b["adversary"])
            assert row["baseline_mean"] == base["mean"] and math.isclose(row["delta"], row["mean"] - base["mean"])
    ranked = sorted(section["rows"], key=lambda r: r["mean"])
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]


SUITE = """
description: a tiny suite for tests
settings:
  train: {meta_iterations: 3, val_every: 0, test_tasks: 6, eval_batch_size: 3}
grid:
  - benchmark: sinusoid
    learner: [maml, finetune]
    seeds: 0-1
  - benchmark: sinusoid-shift
    learner: maml
    seeds: 0
    settings:
      learner: {maml: {inner_lr: 1.0e+30}}
"""


def test_a_suite_board_shows_its_unfinished_cells_as_missing_and_counts_failures(run_cli, tmp_path):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    code, _, _ = run_cli("bench", "--suite", str(suite), "--learner", "maml", "--quiet")
    assert code == 1  # the shifted cell fails by design
    code, out, _ = run_cli("bench", "--learner", "reptile", "--quiet", *TINY)  # outside the suite
    code, out, _ = run_cli("leaderboard", "--suite", str(suite), "--format", "json")
    board = json.loads(out)
    assert board["title"] == "metareg leaderboard: tiny" and board["description"] == "a tiny suite for tests"
    rows = {(s["benchmark"], r["learner"]): r for s in board["sections"] for r in s["rows"]}
    assert set(rows) == {("sinusoid", "maml"), ("sinusoid", "finetune"), ("sinusoid-shift", "maml")}
    assert (rows[("sinusoid", "maml")]["runs"], rows[("sinusoid", "maml")]["planned"]) == (2, 2)
    assert (rows[("sinusoid", "finetune")]["runs"], rows[("sinusoid", "finetune")]["mean"]) == (0, None)
    assert rows[("sinusoid-shift", "maml")]["failed"] == 1 and "loss became" in rows[("sinusoid-shift", "maml")]["errors"][0]
    code, out, _ = run_cli("leaderboard", "--suite", str(suite))
    assert "| — | finetune | mlp | — | — | — | — | (this row) | — | 0/2 | 0 | — |" in out


def test_leaderboard_without_a_store_or_with_a_bad_format_exits_2(run_cli):
    code, _, err = run_cli("leaderboard")
    assert code == 2 and "no results store" in err and "metareg bench" in err
    code, _, err = run_cli("leaderboard", "--format", "pdf")
    assert code == 2 and "--format 'pdf'" in err


def test_a_failed_rerun_is_counted_beside_the_success_it_never_replaces(tmp_path):
    store = Store(tmp_path)
    config = run_config("maml", None, 0)
    store_run(store, config, [0.8, 0.9])
    store_run(store, config, None)  # a --rerun of the same cell that failed
    [entry] = build_board(store.runs()).sections[0].entries
    assert entry.runs == 1 and math.isclose(entry.estimate.mean, 0.85) and entry.failed == 1
    digest = store.runs()[0].config_hash
    claim = store.claim(config_hash=digest, parts={}, seed=0, device="cpu", config=config, versions={},
                        retry_failed=True)
    assert claim.state == "done"  # and bench --retry-failed agrees: the cell is done


def test_leaderboard_selectors_filter_stored_runs_without_defaults(run_cli, tmp_path, monkeypatch):
    store = Store(tmp_path / "store")
    store_run(store, run_config("protonet", None, 0, benchmark="glyphs"), [0.5, 0.6])
    store_run(store, run_config("versa", "dann", 0, benchmark="glyphs"), [0.4, 0.5])
    store_run(store, run_config("maml", None, 0, benchmark="sinusoid"), [0.3], metric="mse")
    code, out, err = run_cli("leaderboard", "--benchmark", "glyphs", "--format", "json")
    assert code == 0, err
    [section] = json.loads(out)["sections"]
    assert sorted(r["learner"] for r in section["rows"]) == ["protonet", "versa"]  # no phantom maml row
    code, out, _ = run_cli("leaderboard", "--benchmark", "glyphs", "--adversary", "none", "--format", "json")
    assert [r["learner"] for r in json.loads(out)["sections"][0]["rows"]] == ["protonet"]
    code, out, _ = run_cli("leaderboard", "train.meta_iterations=10", "learner.versa.lr=0.1", "--format", "json")
    assert sum(len(s["rows"]) for s in json.loads(out)["sections"]) == 3  # settings narrow only when they differ
    code, out, _ = run_cli("leaderboard", "learner.versa.lr=0.5", "--format", "json")
    learners = [r["learner"] for s in json.loads(out)["sections"] for r in s["rows"]]
    assert sorted(learners) == ["maml", "protonet"]  # only versa's rows had the setting, and it differs


def test_leaderboard_help_names_no_bench_defaults(capsys):
    from metareg.commands.cli import main

    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    text = capsys.readouterr().out
    assert "default: maml" not in text and "default: sinusoid" not in text and "default: all" in text


def test_only_a_real_best_is_bold(tmp_path):
    from metareg.board.report import section_table

    store = Store(tmp_path)
    for learner, adversary, values in (("maml", None, [0.5, 0.7]), ("maml", "dann", [0.5, 0.7]),
                                       ("reptile", None, [0.6, 0.8]), ("reptile", "dann", [0.5, 0.7])):
        store_run(store, run_config(learner, adversary, 0), values)
    [section] = build_board(store.runs()).sections
    header, rows = section_table(section)
    delta = header.index("Δ vs baseline")
    assert {r[delta].text for r in rows} >= {"+0.000", "-0.100"}
    assert not any(r[delta].bold for r in rows)  # +0.000 is no improvement, so no Δ is bold


def test_equal_settings_read_the_same_on_every_row(tmp_path):
    store = Store(tmp_path)
    store_run(store, run_config("maml", "dann", 0), [0.5, 0.6])
    other = run_config("maml", "dann", 0)
    other["adversary"]["dann"]["weight"] = 2.0
    store_run(store, other, [0.5, 0.7])
    store_run(store, run_config("protonet", "dann", 0), [0.4, 0.6])
    [section] = build_board(store.runs()).sections
    labels = {(e.parts["learner"], e.settings) for e in section.entries}
    assert ("protonet", "adversary.dann.weight=1.0") in labels and ("maml", "adversary.dann.weight=1.0") in labels


def test_a_row_whose_mean_is_not_finite_is_shown_but_neither_ranked_nor_bold(tmp_path):
    store = Store(tmp_path)
    store_run(store, run_config("maml", None, 0, benchmark="sinusoid"), [0.5, float("inf"), 0.4], metric="mse")
    store_run(store, run_config("reptile", None, 0, benchmark="sinusoid"), [0.3, 0.4, 0.2], metric="mse")
    store_run(store, run_config("finetune", None, 0, benchmark="sinusoid"), [2.0, 2.1, 1.9], metric="mse")
    [section] = build_board(store.runs()).sections
    ranks = {e.parts["learner"]: e.rank for e in section.entries}
    assert ranks == {"reptile": 1, "finetune": 2, "maml": None}
