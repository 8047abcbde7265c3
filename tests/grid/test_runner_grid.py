"""Grids: comma lists and seed ranges expand to the product, incompatible pairs are skipped with their reason,
settings reach only the cells whose parts they name, and suites are found by name with helpful errors."""
from __future__ import annotations

import pytest

from metareg.errors import ConfigError, MetaregError
from metareg.grid.expand import Block, expand, parse_list, parse_seeds
from metareg.grid.suites import available_suites, load_suite
from metareg.run.config import parse_overrides
from metareg.store.database import Store

from helpers.runs import TINY, json_lines

TINY_SETTINGS = parse_overrides(TINY)


@pytest.mark.parametrize("spec, seeds", [
    ("3", (3,)), ("0-4", (0, 1, 2, 3, 4)), ("0,2,5", (0, 2, 5)), ("0-2,7", (0, 1, 2, 7)), (["1", 4], (1, 4)),
    (2, (2,)), ("1,1,0", (1, 0)),
])
def test_seed_specs(spec, seeds):
    assert parse_seeds(spec) == seeds


@pytest.mark.parametrize("spec", ["4-1", "a", "0-x", ""])
def test_bad_seed_specs_are_config_errors(spec):
    with pytest.raises(ConfigError, match="seeds"):
        parse_seeds(spec)


def test_comma_lists_trim_and_refuse_empty():
    assert parse_list(" maml, protonet ,", "learner") == ("maml", "protonet")
    with pytest.raises(ConfigError, match="--learner"):
        parse_list(" , ", "learner")


def test_grid_is_the_product_with_seeds_outermost(registry):
    block = Block({"learner": ("maml", "reptile"), "benchmark": ("sinusoid",), "seeds": (0, 1, 2)})
    plan = expand(registry, [block], TINY_SETTINGS)
    assert [(c.parts["learner"], c.seed) for c in plan.cells] == [
        ("maml", 0), ("reptile", 0), ("maml", 1), ("reptile", 1), ("maml", 2), ("reptile", 2)]
    assert len({c.hash for c in plan.cells}) == 6 and not plan.skipped
    assert all(c.cfg.train.meta_iterations == 3 for c in plan.cells)


def test_incompatible_pairs_are_skipped_with_their_reason(registry):
    block = Block({"learner": ("maml", "protonet", "finetune"), "benchmark": ("sinusoid", "digits"),
                   "adversary": ("none", "dann"), "seeds": (0, 1)})
    plan = expand(registry, [block], TINY_SETTINGS)
    runnable = {(c.parts["learner"], c.parts["benchmark"], c.parts["adversary"]) for c in plan.cells}
    assert runnable == {("maml", "sinusoid", None), ("finetune", "sinusoid", None), ("maml", "digits", None),
                        ("protonet", "digits", None)}
    reasons = {s.label: s.reason for s in plan.skipped}
    assert "handles classification tasks, but benchmark 'sinusoid' is regression" in reasons["protonet on sinusoid"]
    assert "regression" in reasons["finetune on digits"]
    assert "no target domain" in reasons["maml on sinusoid + dann"]
    assert len(plan.skipped) == len(reasons)  # one line per combination, not one per seed


def test_part_settings_reach_only_cells_of_that_part(registry):
    block = Block({"learner": ("maml", "reptile"), "benchmark": ("sinusoid",)})
    plan = expand(registry, [block], parse_overrides(TINY + ["learner.maml.inner_lr=0.5"]))
    by_learner = {c.parts["learner"]: c for c in plan.cells}
    assert by_learner["maml"].cfg.learner.maml.inner_lr == 0.5
    assert ("learner.maml.inner_lr", 0.5) not in by_learner["reptile"].cell.settings


def test_a_setting_for_a_part_outside_the_grid_is_an_error(registry):
    with pytest.raises(ConfigError, match="'learner.mamll.inner_lr' applies to no cell.*maml, reptile"):
        expand(registry, [Block({"learner": ("maml", "reptile")})], parse_overrides(["learner.mamll.inner_lr=0.5"]))


def test_identity_ignores_the_device_and_duplicates_collapse(registry):
    auto = expand(registry, [Block({"learner": ("maml",)})], TINY_SETTINGS)
    cpu = expand(registry, [Block({"learner": ("maml",)}), Block({"learner": ("maml",)})], TINY_SETTINGS,
                 device="cpu")
    assert len(cpu.cells) == 1 and cpu.cells[0].hash == auto.cells[0].hash
    assert cpu.cells[0].cfg.run.device == "cpu"


def test_unknown_suite_lists_close_matches_and_the_available_suites():
    assert {"default", "cross-domain"} <= set(available_suites())
    with pytest.raises(MetaregError) as info:
        load_suite("cross-domian")
    message = str(info.value)
    assert "unknown suite 'cross-domian'" in message and "did you mean 'cross-domain'" in message
    assert "available suites:" in message and "default" in message


def test_bench_with_an_unknown_suite_exits_2_with_one_line(run_cli):
    code, out, err = run_cli("bench", "--suite", "defualt")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "unknown suite 'defualt': did you mean 'default'" in err


def test_suite_file_keys_are_checked(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("grid:\n  learner: [maml]\n  seed: 0-2\n")
    with pytest.raises(ConfigError, match="unknown key 'seed'; did you mean 'seeds'"):
        load_suite(str(path))
    path.write_text("description: no grid\n")
    with pytest.raises(ConfigError, match="has no 'grid'"):
        load_suite(str(path))


@pytest.mark.parametrize("name", ["default", "cross-domain"])
def test_shipped_suites_expand_to_runnable_cells(registry, name):
    suite = load_suite(name)
    plan = expand(registry, [block.with_axes(seeds=(0,)) for block in suite.blocks])
    assert suite.description and len(plan.cells) >= 8
    learners = {c.parts["learner"] for c in plan.cells}
    assert len(learners) >= 3  # a learner comparison
    shifted = [c for c in plan.cells if c.parts["adversary"] == "dann"]
    assert shifted and all(c.parts["benchmark"].endswith("shift") or c.parts["benchmark"] in ("glyphs", "glyph-world")
                           for c in shifted)


def test_the_default_suite_gives_every_dann_row_an_oracle_so_its_first_board_has_a_headroom_view(registry):
    cells = expand(registry, load_suite("default").blocks).cells

    def own(cell):
        return dict(cell.cfg.benchmark[cell.parts["benchmark"]])

    oracles = {c.parts["learner"] for c in cells if c.parts["benchmark"] == "glyph-world"
               and own(c).get("train_domain") == "target" and c.parts["adversary"] is None}
    dann = [c for c in cells if c.parts["adversary"] == "dann"]
    assert dann and {c.parts["learner"] for c in dann} <= oracles
    assert all(own(c)["domains"] == "platform" for c in dann)  # the domain whose gap the oracle shows


@pytest.mark.parametrize("name", sorted(available_suites()))
def test_every_shipped_suite_expands_and_resolves_each_cell(registry, name):
    """A suite file that names a setting a part lacks, or a value its range refuses, fails here, not hours into
    a grid."""
    plan = expand(registry, [block.with_axes(seeds=(0,)) for block in load_suite(name).blocks])
    assert plan.cells


def test_default_suite_is_what_bare_bench_runs(run_cli, registry):
    code, out, _ = run_cli("bench", "--print-config")
    assert code == 0
    cells = [line for line in out.splitlines() if line.startswith("# ")]
    assert len(cells) == len(expand(registry, load_suite("default").blocks).cells)


def test_bench_runs_a_comma_list_and_states_the_skipped_pairs(run_cli, tmp_path):
    code, out, err = run_cli("bench", "--learner", "maml,protonet,finetune", "--benchmark", "sinusoid",
                             "--seeds", "0-1", "--json", *TINY)
    assert code == 0, err
    results = json_lines(out)
    assert sorted((r["parts"]["learner"], r["seed"]) for r in results) == [
        ("finetune", 0), ("finetune", 1), ("maml", 0), ("maml", 1)]
    assert "skipped protonet on sinusoid: learner 'protonet' handles classification" in err
    assert len(Store(tmp_path / "store").runs(status="done")) == 4


def test_a_grid_with_nothing_runnable_exits_2_and_says_why(run_cli, tmp_path):
    code, out, err = run_cli("bench", "--learner", "protonet", "--benchmark", "sinusoid", "--quiet", *TINY)
    assert code == 2 and out == ""
    assert err.startswith("metareg: error: nothing to run") and "regression" in err
    assert not (tmp_path / "store").exists()


def test_progress_is_plain_lines_off_a_terminal_and_silent_when_quiet(run_cli):
    code, _, err = run_cli("bench", "--learner", "maml,finetune", *TINY)
    assert code == 0
    lines = err.splitlines()
    assert "[1/2] maml on sinusoid (seed 0): started" in lines and "\r" not in err
    assert any(line.startswith("[2/2] finetune on sinusoid (seed 0): done in ") for line in lines)
    code, _, err = run_cli("bench", "--learner", "maml,finetune", "--quiet", *TINY)
    assert code == 0 and err == ""


def test_a_benchmark_that_cannot_be_built_fails_its_own_cells_and_the_rest_run(run_cli, tmp_path):
    """Planning probes a benchmark for target data when an adversary needs it; one that cannot be built (here a
    folder path that is not there, as glyph-world without its fonts) must not stop the grid's other cells."""
    missing = tmp_path / "no-such-folder"
    code, out, err = run_cli("bench", "--learner", "maml", "--benchmark", "sinusoid,folder", "--adversary", "none,dann",
                             "--quiet", "--json", f"benchmark.folder.path={missing}", *TINY)
    assert code == 2
    runs = json_lines(out)
    assert [(r["parts"]["benchmark"], r["status"]) for r in runs] == [("sinusoid", "done")]
    assert str(missing) in err and "sinusoid" not in err


def test_an_install_without_the_shipped_suites_says_to_reinstall(monkeypatch):
    """An editable install made before the suites shipped as ``metareg_suites`` cannot import them: a bare
    ``metareg bench`` must say what to do, not raise ModuleNotFoundError."""
    import sys

    from metareg.grid import suites

    monkeypatch.setitem(sys.modules, "metareg_suites", None)  # as if not installed: importing it raises ImportError
    monkeypatch.delenv("METAREG_SUITES", raising=False)
    monkeypatch.chdir("/")
    assert suites.installed_suites() is None
    with pytest.raises(ConfigError, match="reinstall metareg"):
        suites.find_suite("default")


def test_every_cell_state_has_its_summary_word_and_its_progress_line():
    """The states are declared once (``metareg.grid.cell_states``); a new one comes with the words that report it."""
    from metareg.grid import cell_states
    from metareg.grid.progress import describe
    from metareg.grid.runner import CellReport
    from metareg.run.record import RunResult

    states = {v for k, v in vars(cell_states).items() if k.isupper() and isinstance(v, str)}
    assert states == set(cell_states.SUMMARY_WORDS)
    for state in states - {cell_states.INVALID}:  # a config error is said once, when the grid ends
        result = RunResult("0123abcd", {}, 0, "cpu", "failed", 1.0, error="why", run_id=1)
        line = describe(CellReport(None, state, result, run_id=1, error="why"))
        assert line and isinstance(line, str)
