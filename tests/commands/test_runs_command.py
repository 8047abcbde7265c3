"""``metareg runs``: one row per stored run with its model and checkpoint files, the leaderboard's selectors,
``--status``, ``--json``, ``runs show``, and the two bad inputs (an unknown run id, a missing store) as exit 2."""
from __future__ import annotations

import re
import socket

import pytest

from metareg.run.files import checkpoint_path, model_path
from metareg.store.database import Store

from helpers.runs import json_lines

HISTORY = [{"iteration": 50 * i, "train_loss": 1.0 / i, "adversary_domain_accuracy": 0.5 + 0.1 / i,
            **({"val_accuracy": 0.8 + i / 100} if i % 2 == 0 else {})} for i in range(1, 5)]


def _start(store: Store, config_hash: str, learner: str, benchmark: str, seed: int, adversary: str | None = None,
           generator: str | None = None) -> int:
    return store.start(config_hash=config_hash, seed=seed, device="cpu",
                       parts={"benchmark": benchmark, "backbone": "conv4", "learner": learner, "adversary": adversary,
                              "generator": generator},
                       config={"run": {"seed": seed}, "learner": {learner: {"inner_lr": 0.4}}},
                       versions={"metareg": "0.1.0", "torch": "2.3.0"})


@pytest.fixture
def store(tmp_path) -> Store:
    """Four runs in the run_cli store: done (with a model file), failed, running (this process), and a running row
    whose runner is gone (with a checkpoint file)."""
    store = Store(tmp_path / "store")
    done = _start(store, "h-done", "protonet", "digits-shift", 0, adversary="dann")
    store.finish(done, status="done", wall_time=12.34, history=HISTORY,
                 metrics={"accuracy": {"mean": 0.9123, "ci95": 0.0112, "n": 600}},
                 phases={"setup": 0.0, "train": 8.0, "val": 2.34, "test": 2.0})
    failed = _start(store, "h-failed", "maml", "sinusoid", 1)
    store.finish(failed, status="failed", wall_time=3.0, error="FloatingPointError: loss became nan by iteration 150")
    _start(store, "h-running", "maml", "sinusoid", 2, generator="mtgan")
    store.claim(config_hash="h-gone", parts={"benchmark": "sinusoid", "backbone": "mlp", "learner": "maml"}, seed=3,
                device="cpu", config={}, versions={}, owner=f"{socket.gethostname()}:999999999")
    for path in (model_path(store.path.parent, done), checkpoint_path(store.path.parent, "h-gone")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return store


def _table(out: str) -> dict[str, list[str]]:
    """The table's rows by run id, each split into its columns (two or more spaces apart); the summary line that
    ends the output is left out."""
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "learner", "benchmark"] and set(lines[1]) <= {"-", " "}
    return {cells[0]: cells for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[2:-1])}


def test_runs_lists_one_row_per_run_with_its_metric_and_files(run_cli, store):
    code, out, err = run_cli("runs")
    assert code == 0 and err == ""
    rows = _table(out)
    assert rows == {
        "1": ["1", "protonet", "digits-shift", "conv4", "dann", "—", "0", "done", "accuracy 0.912 ± 0.011", "12.3",
              "yes", "no"],
        "2": ["2", "maml", "sinusoid", "conv4", "—", "—", "1", "failed", "—", "3.0", "no", "no"],
        "3": ["3", "maml", "sinusoid", "conv4", "—", "mtgan", "2", "running", "—", "—", "no", "no"],
        "4": ["4", "maml", "sinusoid", "mlp", "—", "—", "3", "abandoned", "—", "—", "no", "yes"],
    }
    assert out.splitlines()[-1] == (f"4 runs (1 done, 1 failed, 1 running, 1 abandoned) in {store.path}; "
                                    f"`metareg runs show ID` prints one")


def test_the_file_columns_follow_the_files_at_the_run_files_paths(run_cli, store):
    model_path(store.path.parent, 1).unlink()
    checkpoint_path(store.path.parent, "h-done").touch()  # a checkpoint is the run's identity's, not its row's
    model_path(store.path.parent, 2).touch()
    rows = _table(run_cli("runs")[1])
    assert [rows[i][-2:] for i in "1234"] == [["no", "yes"], ["yes", "no"], ["no", "no"], ["no", "yes"]]


def test_selectors_seeds_and_status_filter_the_runs(run_cli, store):
    def ids(*args: str) -> list[str]:
        code, out, _ = run_cli("runs", *args)
        assert code == 0
        return sorted(_table(out)) if out.startswith("id") else []

    assert ids("--learner", "maml") == ["2", "3", "4"]
    assert ids("--learner", "maml,protonet", "--benchmark", "digits-shift") == ["1"]
    assert ids("--adversary", "none") == ["2", "3", "4"] and ids("--adversary", "dann") == ["1"]
    assert ids("--generator", "mtgan") == ["3"] and ids("--backbone", "mlp") == ["4"]
    assert ids("--seeds", "1-2") == ["2", "3"] and ids("--seed", "0,3") == ["1", "4"]
    assert ids("--status", "done") == ["1"] and ids("--status", "failed") == ["2"]
    assert ids("--status", "running") == ["3", "4"]  # an abandoned row is still a running one
    assert ids("--status", "done", "--learner", "maml") == []
    code, out, _ = run_cli("runs", "--status", "done", "--learner", "maml")
    assert out.strip() == f"no matching runs in {store.path}"
    code, out, _ = run_cli("runs", "--learner", "maml", "--seeds", "2")
    assert out.splitlines()[-1].startswith("1 matching run (1 running) in ")


def test_runs_json_prints_one_object_per_run(run_cli, store):
    code, out, _ = run_cli("runs", "--json")
    assert code == 0 and len(out.splitlines()) == 4
    lines = json_lines(out)
    assert [line["run_id"] for line in lines] == [1, 2, 3, 4]
    done, failed, running, gone = lines
    assert done["parts"] == {"learner": "protonet", "benchmark": "digits-shift", "backbone": "conv4",
                             "adversary": "dann", "generator": None}
    assert done["metrics"] == {"accuracy": {"mean": 0.9123, "ci95": 0.0112, "n": 600}}
    assert (done["status"], done["seed"], done["wall_time"], done["config_hash"]) == ("done", 0, 12.34, "h-done")
    assert done["model_file"] == str(model_path(store.path.parent, 1)) and done["model_exists"] is True
    assert done["checkpoint_file"] == str(checkpoint_path(store.path.parent, "h-done"))
    assert done["checkpoint_exists"] is False and "history" not in done and "config" not in done
    assert failed["error"].startswith("FloatingPointError") and failed["metrics"] is None
    assert (running["status"], running["abandoned"]) == ("running", False)
    assert (gone["status"], gone["abandoned"], gone["checkpoint_exists"]) == ("running", True, True)
    code, out, _ = run_cli("runs", "--json", "--status", "failed")
    assert [line["run_id"] for line in json_lines(out)] == [2]


def test_an_empty_store_says_so(run_cli, tmp_path):
    Store(tmp_path / "store")
    code, out, _ = run_cli("runs")
    assert code == 0 and out.strip() == f"no runs in {tmp_path / 'store' / 'results.sqlite'}"
    assert run_cli("runs", "--json")[1] == ""


def test_runs_show_prints_one_run(run_cli, store):
    code, out, err = run_cli("runs", "show", "1")
    assert code == 0 and err == ""
    assert out.startswith(f"run 1 in {store.path}\n")
    for line in ("  learner      protonet", "  adversary    dann", "  generator    —", "  seed         0",
                 "  status       done", "  device       cpu", "  wall time    12.3 s",
                 "  time split   train 8.0 s (65%), val 2.3 s (19%), test 2.0 s (16%)", "  config hash  h-done",
                 "  accuracy  0.9123 ± 0.0112 (n=600)", "  metareg  0.1.0", "  torch    2.3.0",
                 f"  model       {model_path(store.path.parent, 1)} (exists)",
                 f"  checkpoint  {checkpoint_path(store.path.parent, 'h-done')} (none: removed by design once the "
                 f"run had its outcome (a checkpoint only serves resuming))"):
        assert line in out.splitlines(), line
    config = out.split("config (resolved):\n")[1].split("\n\n")[0]
    assert config.splitlines() == ["  learner:", "    protonet:", "      inner_lr: 0.4", "  run:", "    seed: 0"]
    history = out.split("history (4 logged entries):\n")[1].splitlines()
    assert history[0].split() == ["iteration", "train_loss", "adversary_domain_accuracy", "val_accuracy"]
    assert [row.split() for row in history[2:]] == [
        ["50", "1", "0.6", "—"], ["100", "0.5", "0.55", "0.82"], ["150", "0.3333", "0.5333", "—"],
        ["200", "0.25", "0.525", "0.84"]]
    assert "error" not in out


def test_runs_show_a_failed_run_shows_its_error(run_cli, store):
    code, out, _ = run_cli("runs", "show", "2")
    assert code == 0
    assert "  error        FloatingPointError: loss became nan by iteration 150" in out.splitlines()
    assert "  none (the run failed)" in out and "history: none logged" in out


def test_runs_show_says_why_a_file_is_absent_and_missing_only_for_a_finished_runs_model(run_cli, store):
    def states(run_id: int) -> dict[str, str]:
        out = run_cli("runs", "show", str(run_id))[1]
        lines = out.split("files:\n")[1].split("\n\n")[0].splitlines()
        return {line.split()[0]: line.split(" (", 1)[1][:-1] for line in lines}

    assert states(2) == {"model": "none: a failed run has no model",
                         "checkpoint": "none: removed by design once the run had its outcome (a checkpoint only "
                                       "serves resuming)"}
    assert states(3) == {"model": "none yet: written when the run finishes", "checkpoint": "none written yet"}
    assert states(4)["checkpoint"] == "exists"
    model_path(store.path.parent, 1).unlink()  # as `metareg runs prune` does
    assert states(1)["model"].startswith("missing: `metareg runs prune` deletes models")


def test_runs_show_keeps_a_long_history_small_unless_asked(run_cli, tmp_path):
    store = Store(tmp_path / "store")
    run_id = _start(store, "h", "maml", "sinusoid", 0)
    store.finish(run_id, status="done", wall_time=1.0, metrics={"mse": {"mean": 0.5, "ci95": None, "n": 1}},
                 history=[{"iteration": 50 * i, "train_loss": 1.0} for i in range(1, 101)])
    out = run_cli("runs", "show", "1")[1]
    history = out.split("history (100 logged entries, 20 shown; --all-history shows every one):\n")[1].splitlines()
    iterations = [int(row.split()[0]) for row in history[2:]]
    assert len(iterations) == 20 and iterations[0] == 50 and iterations[-1] == 5000
    out = run_cli("runs", "show", "1", "--all-history")[1]
    assert len(out.split("history (100 logged entries):\n")[1].splitlines()) == 102
    assert "mse 0.500 " not in out and "  mse  0.5000 (n=1)" in out.splitlines()
    assert _table(run_cli("runs")[1])["1"][8] == "mse 0.500"


def test_runs_show_json_is_the_whole_row(run_cli, store):
    for args in (("runs", "show", "1", "--json"), ("runs", "--json", "show", "1")):
        code, out, _ = run_cli(*args)
        [line] = json_lines(out)
        assert code == 0 and line["run_id"] == 1 and line["history"] == HISTORY and line["phases"]["val"] == 2.34
        assert line["config"]["learner"]["protonet"]["inner_lr"] == 0.4 and line["versions"]["torch"] == "2.3.0"


def test_store_option_before_or_after_show(run_cli, store, tmp_path, monkeypatch):
    monkeypatch.setenv("METAREG_STORE", str(tmp_path / "elsewhere"))
    for args in (("runs", "--store", str(store.path.parent), "show", "1"),
                 ("runs", "show", "1", "--store", str(store.path.parent))):
        code, out, err = run_cli(*args)
        assert code == 0, err
        assert out.startswith(f"run 1 in {store.path}")
    code, out, _ = run_cli("runs", "--store", str(store.path))  # the sqlite file itself works too
    assert code == 0 and sorted(_table(out)) == ["1", "2", "3", "4"]


@pytest.mark.parametrize("given, closest", [("9", "2, 3, 4"), ("0", "1, 2, 3"), ("3O", "3")],
                         ids=["past-the-end", "zero", "a-typo"])
def test_an_unknown_run_id_exits_2_naming_the_closest_ids_and_the_store(run_cli, store, given, closest):
    code, out, err = run_cli("runs", "show", given)
    assert code == 2 and out == ""
    assert err == (f"metareg: error: no run {given} in {store.path}: the closest ids are {closest} "
                   f"(`metareg runs` lists them all)\n")


def test_a_run_id_that_is_no_number_exits_2_with_the_range_of_ids(run_cli, store):
    code, _, err = run_cli("runs", "show", "latest")
    assert code == 2 and err == (f"metareg: error: no run 'latest' in {store.path}: a run id is a number, here from "
                                 f"1 to 4 (`metareg runs` lists them all)\n")


def test_an_unknown_run_id_in_an_empty_store_says_it_holds_none(run_cli, tmp_path):
    Store(tmp_path / "store")
    code, _, err = run_cli("runs", "show", "1")
    assert code == 2 and "holds no runs yet" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [("runs",), ("runs", "--json"), ("runs", "show", "1")], ids=["list", "json", "show"])
def test_a_missing_store_exits_2_naming_its_path_and_bench(run_cli, tmp_path, args):
    code, out, err = run_cli(*args)
    assert code == 2 and out == ""
    assert err.strip() == (f"metareg: error: no results store at {tmp_path / 'store' / 'results.sqlite'}: run "
                           f"`metareg bench` first, or point --store (or METAREG_STORE) at the store the runs went to")
    assert not (tmp_path / "store").exists()  # looking never creates a store


def test_the_message_for_a_missing_store_is_the_leaderboards(run_cli):
    assert run_cli("runs")[2] == run_cli("leaderboard")[2]


def test_runs_is_a_listed_command(capsys):
    from metareg.commands.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert "runs" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["runs", "--help"])
    out = capsys.readouterr().out
    assert "metareg runs show RUN_ID" in out and "--status" in out and "--seeds" in out


def test_show_id_helper_is_reusable(store):
    from metareg.commands.runs import UnknownRunError, find_run
    from metareg.errors import MetaregError

    assert find_run(store, 2).status == "failed" and find_run(store, " 3 ").generator == "mtgan"
    with pytest.raises(UnknownRunError) as caught:
        find_run(store, 12)
    assert isinstance(caught.value, MetaregError) and "closest ids are 2, 3, 4" in str(caught.value)


def test_prune_deletes_model_files_and_keeps_every_result(tmp_path, capsys):
    from metareg.commands.cli import main
    from metareg.run.files import model_path
    from metareg.store.database import Store

    store = Store(tmp_path / "results.sqlite")
    ids = []
    for seed, accuracy in ((0, 0.5), (1, 0.7)):
        run_id = store.start(config_hash=f"h{seed}", parts={"benchmark": "digits", "backbone": "conv4",
                                                             "learner": "protonet", "adversary": None,
                                                             "generator": None},
                             seed=seed, device="cpu", config={"run": {"seed": seed}}, versions={})
        store.finish(run_id, status="done", wall_time=1.0, metrics={"accuracy": {"mean": accuracy, "ci95": 0.1,
                                                                                  "n": 10}})
        model_path(tmp_path, run_id).parent.mkdir(exist_ok=True)
        model_path(tmp_path, run_id).write_bytes(b"weights")
        ids.append(run_id)
    assert main(["runs", "prune", "--keep-models", "best", "--store", str(tmp_path)]) == 0
    assert "deleted 1 model file(s)" in capsys.readouterr().out
    assert not model_path(tmp_path, ids[0]).exists() and model_path(tmp_path, ids[1]).exists()  # seed 1 is best
    assert main(["runs", "prune", "--keep-models", "none", "--store", str(tmp_path)]) == 0
    assert not model_path(tmp_path, ids[1]).exists()
    assert [r.metrics["accuracy"]["mean"] for r in store.runs()] == [0.5, 0.7]
