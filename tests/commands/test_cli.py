"""The command line: JSON results, stored rows, and bad input that exits 2 with one line and stores nothing."""
from __future__ import annotations

import subprocess
import sys

import pytest

from metareg.store.database import Store

from helpers.runs import TINY, json_lines


def test_bench_json_prints_one_object_per_run_and_stores_it(run_cli, tmp_path):
    code, out, err = run_cli("bench", "--learner", "maml", "--benchmark", "sinusoid", "--json", *TINY)
    assert code == 0
    [result] = json_lines(out)
    assert result["status"] == "done" and result["parts"]["learner"] == "maml"
    assert set(result["metrics"]["mse"]) == {"mean", "ci95", "n"} and result["metrics"]["mse"]["n"] == 6
    assert "maml on sinusoid" in err  # progress goes to stderr
    [row] = Store(tmp_path / "store").runs()
    assert row.status == "done" and row.config_hash == result["config_hash"]
    assert row.config["learner"]["maml"]["inner_lr"] == 0.01 and row.config["train"]["meta_iterations"] == 3
    assert row.metrics == result["metrics"] and row.versions["torch"] and row.wall_time > 0
    assert row.device == "cpu" and row.history


def test_bench_prints_a_result_table(run_cli):
    code, out, _ = run_cli("bench", "--learner", "maml", "--quiet", *TINY)
    assert code == 0 and "mean ± 95% CI (n)" in out and "mse" in out and "stored as run 1" in out


def test_unknown_learner_exits_2_with_suggestions_and_stores_nothing(run_cli, tmp_path):
    code, out, err = run_cli("bench", "--learner", "mamml", "--quiet")
    assert code == 2 and out == ""
    assert err.startswith("metareg: error: unknown learner 'mamml': did you mean 'maml'")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "store").exists() or Store(tmp_path / "store").runs() == []


def test_bad_key_and_bad_type_exit_2(run_cli, tmp_path):
    code, _, err = run_cli("bench", "--learner", "maml", "learner.maml.inner_lrr=1")
    assert code == 2 and "'learner.maml.inner_lrr'" in err and "did you mean 'inner_lr'" in err
    code, _, err = run_cli("bench", "--learner", "maml", "learner.maml.inner_steps=1.5")
    assert code == 2 and "'learner.maml.inner_steps'" in err
    assert not (tmp_path / "store").exists() or Store(tmp_path / "store").runs() == []


def test_unknown_adversary_exits_2(run_cli):
    code, _, err = run_cli("bench", "--adversary", "dannn", "--quiet")
    assert code == 2 and "unknown adversary 'dannn'" in err


def test_cuda_requested_without_gpu_is_a_clear_error(run_cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present, so asking for one is not an error")
    code, _, err = run_cli("bench", "--device", "cuda", "--quiet", *TINY)
    assert code == 2 and "no CUDA GPU" in err


def test_failed_run_is_stored_as_failed_with_its_error(run_cli, tmp_path):
    code, out, _ = run_cli("bench", "--learner", "maml", "--json", "--quiet", "learner.maml.inner_lr=1e30", *TINY)
    assert code == 1
    [result] = json_lines(out)
    assert result["status"] == "failed" and "loss became" in result["error"]
    [row] = Store(tmp_path / "store").runs()
    assert row.status == "failed" and "loss became" in row.error


def test_print_config_shows_resolved_sections(run_cli):
    code, out, _ = run_cli("bench", "--learner", "protonet", "--benchmark", "digits", "--print-config")
    assert code == 0 and "protonet:" in out and "conv4:" in out and "meta_batch_size: 4" in out


def test_python_dash_m_and_help_work():
    done = subprocess.run([sys.executable, "-m", "metareg", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "bench" in done.stdout and "plugins" in done.stdout


def test_an_adversary_without_a_benchmark_gets_a_shift_benchmark_and_says_so(run_cli):
    """The headline command: sinusoid (the bare default) has no target domain, so DANN would have nothing to run."""
    code, out, err = run_cli("bench", "--learner", "maml", "--adversary", "dann", "--json",
                             "train.meta_iterations=3", "train.val_every=0", "train.test_tasks=4",
                             "benchmark.digits-shift.image_size=16", "backbone.conv4.channels=4",
                             "train.meta_batch_size=2")
    assert code == 0, err
    [result] = json_lines(out)
    assert result["parts"]["benchmark"] == "digits-shift" and result["status"] == "done"
    assert "no --benchmark given" in err and "digits-shift for maml" in err
    assert "None" not in err


def test_a_regression_only_learner_gets_the_regression_shift_benchmark(registry):
    from metareg.grid.expand import with_shift_default

    [axes], note = with_shift_default(registry, {"learner": ("finetune",), "adversary": ("dann",)})
    assert axes["benchmark"] == ("sinusoid-shift",) and "sinusoid-shift for finetune" in note
    assert with_shift_default(registry, {"learner": ("maml",)}) == ([{"learner": ("maml",)}], None)
    assert with_shift_default(registry, {"adversary": ("none",)})[1] is None


def test_a_label_without_a_benchmark_names_the_default_not_none():
    from metareg.grid.expand import cell_label

    assert cell_label({"learner": "maml", "adversary": "dann"}) == "maml on the default benchmark (sinusoid) + dann"


def test_overrides_may_stand_anywhere_among_the_options(run_cli):
    code, out, err = run_cli("bench", "train.meta_iterations=3", "--learner", "maml", "train.val_every=0",
                             "--json", "train.test_tasks=4", "--quiet")
    assert code == 0, err
    [result] = json_lines(out)
    assert result["status"] == "done"


def test_a_stray_word_among_the_options_is_still_an_error(capsys):
    from metareg.commands.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["bench", "--learner", "maml", "oops", "--quiet", "--bogus"])
    assert exc.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_a_grid_whose_every_cell_cannot_be_built_exits_2(run_cli, tmp_path):
    code, _, err = run_cli("bench", "--learner", "protonet", "--benchmark", "digits", "--quiet",
                           "benchmark.digits.image_size=8", *TINY)
    assert code == 2 and "nothing ran" in err and "conv4" in err
    assert Store(tmp_path / "store").runs() == []


def test_log_tensorboard_switch_logs_the_run_as_the_environment_variable_does(run_cli, tmp_path, monkeypatch):
    import os

    pytest.importorskip("tensorboard")
    from metareg_plugins import tensorboard_log

    monkeypatch.delenv(tensorboard_log.ENV, raising=False)
    code, out, _ = run_cli("bench", "--learner", "maml", "--benchmark", "sinusoid", "--json",
                           "--log", f"tensorboard:{tmp_path / 'tb'}", *TINY)
    [result] = json_lines(out)
    assert code == 0 and result["status"] == "done"
    [folder] = (tmp_path / "tb").iterdir()
    assert folder.name == f"maml_sinusoid_{result['config_hash']}" and list(folder.glob("events.out.tfevents.*"))
    assert tensorboard_log.ENV not in os.environ  # set for the command only


@pytest.mark.parametrize("value, says", [("tensorboard", "names no folder: use --log tensorboard:DIR"),
                                         ("tensorboard: ", "names no folder"),
                                         ("wandb:runs", "unknown logger 'wandb'; use tensorboard:DIR")])
def test_a_bad_log_switch_exits_2_naming_the_fix_and_stores_nothing(run_cli, tmp_path, value, says):
    code, out, err = run_cli("bench", "--learner", "maml", "--log", value, "--quiet", *TINY)
    assert code == 2 and out == "" and says in err
    assert not (tmp_path / "store").exists() or Store(tmp_path / "store").runs() == []


def test_the_log_switch_sets_the_variable_its_plugin_reads():
    from metareg.commands.log_switch import LOGGERS
    from metareg_plugins import tensorboard_log

    assert LOGGERS == {"tensorboard": tensorboard_log.ENV}
