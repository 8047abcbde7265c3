"""The built-in TensorBoard logger (plugins/tensorboard_log.py): with ``METAREG_TENSORBOARD=DIR`` a run's event file
holds exactly its history, live; without it nothing is written; without tensorboard one warning and the run goes on.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from omegaconf import OmegaConf

from metareg.host.conformance import check_plugin, check_registry
from metareg.host.registry import Registry
from metareg.run.config import resolve
from metareg.run.engine import Run
from metareg.run.record import RunResult
from metareg_plugins import tensorboard_log

REGISTRY = Registry.load(warn=False)
#: 120 outer updates of first-order MAML: history entries at 50, 100 and 120, each a validation point
TINY = [("train.meta_iterations", 120), ("train.meta_batch_size", 4), ("train.val_every", 50),
        ("train.val_tasks", 4), ("train.test_tasks", 4), ("train.eval_batch_size", 4), ("train.task_chunk", 4),
        ("train.target_batch_size", 16), ("learner.maml.first_order", True)]


def _run(*settings, **selectors):
    selectors = {"learner": "maml", "benchmark": "sinusoid", **selectors}
    cfg, selection = resolve(REGISTRY, TINY + list(settings), selectors)
    return Run(cfg, selection, REGISTRY).execute(progress=False)


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series of the event files in ``folder``, read back as TensorBoard reads them (a series an
    earlier attempt's purged events leave empty is dropped, as TensorBoard draws nothing for it)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    series = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
    return {t: points for t, points in series.items() if points}


def _expected(history: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """The history as TensorBoard stores it: a float32 per numeric key but ``iteration``, at step = iteration."""
    out: dict[str, list[tuple[int, float]]] = {}
    for entry in history:
        for key, value in entry.items():
            if key != "iteration":
                out.setdefault(tensorboard_log.tag(key), []).append((entry["iteration"], float(np.float32(value))))
    return out


@pytest.fixture
def fresh_logger(monkeypatch):
    """The logger's per-process state as at import (no open writers, no past import failure)."""
    monkeypatch.setattr(tensorboard_log, "_writers", {})
    monkeypatch.setattr(tensorboard_log, "_disabled", set())
    monkeypatch.setattr(tensorboard_log, "_import_failed", False)
    return tensorboard_log


def test_the_plugin_is_a_loaded_observer_with_no_parts_that_passes_the_checks():
    names = dict(REGISTRY.pm.list_name_plugin())
    assert names["tensorboard-log"] is tensorboard_log
    assert not [f for f in REGISTRY.failures if f.plugin == "tensorboard-log"]
    assert not [p for p in REGISTRY.all_parts() if p.plugin == "tensorboard-log"]
    # what `metareg plugins --check` runs: no part to check and no load failure, so no failed row
    only = Registry.load(warn=False, allow=["tensorboard-log"], block=[])
    assert only.failures == [] and check_registry(only).ok and check_plugin(tensorboard_log).ok


def test_tags_group_the_history_keys():
    tag = tensorboard_log.tag
    assert tag("train_loss") == "train/loss" and tag("surrogate_loss") == "train/surrogate_loss"
    assert tag("accuracy") == "train/accuracy" and tag("pre_update_loss") == "train/pre_update_loss"
    assert tag("val_accuracy") == "val/accuracy" and tag("val_mse") == "val/mse"
    assert tag("adversary_loss") == "adversary/loss"
    assert tag("adversary_domain_accuracy") == "adversary/domain_accuracy"
    assert tag("generator_loss") == "generator/loss"
    assert tensorboard_log.scalars({"iteration": 50, "train_loss": 1, "flag": True, "note": "x"}) == \
        {"train/loss": 1.0}


def test_a_run_writes_its_history_as_scalars_and_closes_the_writer(tmp_path, monkeypatch, fresh_logger):
    pytest.importorskip("tensorboard")
    monkeypatch.setenv("METAREG_TENSORBOARD", str(tmp_path))
    result = _run(benchmark="sinusoid-shift", adversary="dann")
    assert result.status == "done", result.error
    assert [e["iteration"] for e in result.history] == [50, 100, 120]

    folder = tmp_path / f"maml_sinusoid-shift_{result.config_hash}"
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    got = _scalars(folder)
    assert {"train/loss", "val/mse", "adversary/loss", "adversary/domain_accuracy"} <= set(got)
    assert got == _expected(result.history)  # every tag, step and value: the run's history
    assert fresh_logger._writers == {}  # closed at metareg_run_finished


def test_each_logged_iteration_is_on_disk_before_the_run_ends_and_a_rerun_replaces_it(tmp_path, monkeypatch,
                                                                                      fresh_logger):
    pytest.importorskip("tensorboard")
    monkeypatch.setenv("METAREG_TENSORBOARD", str(tmp_path))
    config = OmegaConf.create({"run": {"learner": "protonet", "benchmark": "digits"}})
    folder = tmp_path / "protonet_digits_0123abcd"

    def log(iteration, **values):
        fresh_logger.metareg_iteration_logged(config=config, entry={"iteration": iteration, **values},
                                              run_hash="0123abcd")

    log(50, train_loss=1.5, accuracy=0.25)
    assert _scalars(folder) == {"train/loss": [(50, 1.5)], "train/accuracy": [(50, 0.25)]}  # flushed, still open
    log(100, train_loss=1.25, accuracy=0.5, val_accuracy=0.375)
    assert _scalars(folder)["val/accuracy"] == [(100, 0.375)]
    finished = RunResult("0123abcd", {}, 0, "cpu", "failed", 1.0)
    fresh_logger.metareg_run_finished(config=config, result=finished)
    assert fresh_logger._writers == {}

    log(50, train_loss=0.5, accuracy=0.75)  # the same run again (--rerun): its curves, not both overlaid
    fresh_logger.metareg_run_finished(config=config, result=finished)
    assert _scalars(folder) == {"train/loss": [(50, 0.5)], "train/accuracy": [(50, 0.75)]}


@pytest.mark.parametrize("value", [None, "", "  "])
def test_without_the_setting_nothing_is_written_or_imported(value, tmp_path, monkeypatch, fresh_logger):
    if value is None:
        monkeypatch.delenv("METAREG_TENSORBOARD", raising=False)
    else:
        monkeypatch.setenv("METAREG_TENSORBOARD", value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fresh_logger, "_summary_writer", lambda: pytest.fail("the logger is off: no writer"))
    result = _run(("train.meta_iterations", 51), ("train.val_every", 0))
    assert result.status == "done" and len(result.history) == 2
    assert list(tmp_path.iterdir()) == [] and fresh_logger._writers == {}


def test_without_tensorboard_one_warning_names_the_extra_and_the_run_goes_on(tmp_path, monkeypatch, fresh_logger):
    monkeypatch.setenv("METAREG_TENSORBOARD", str(tmp_path / "tb"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # `from torch.utils.tensorboard import` fails
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = _run(("train.meta_iterations", 101), ("train.val_every", 0))
        second = _run(("train.meta_iterations", 1), ("train.val_every", 0), ("run.seed", 1))
    assert first.status == second.status == "done"
    assert len(first.history) == 3 and len(second.history) == 1
    messages = [str(w.message) for w in caught if "metareg" in str(w.message)]
    assert len(messages) == 1, messages  # once per process, not per logged iteration or per run
    assert "pip install 'metareg[tensorboard]'" in messages[0] and "METAREG_TENSORBOARD" in messages[0]
    assert not (tmp_path / "tb").exists() and fresh_logger._writers == {}


def test_a_log_folder_that_cannot_be_made_warns_once_and_never_fails_the_run(tmp_path, monkeypatch, fresh_logger):
    pytest.importorskip("tensorboard")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("METAREG_TENSORBOARD", str(blocker))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _run(("train.meta_iterations", 101), ("train.val_every", 0))
    assert result.status == "done" and len(result.history) == 3
    messages = [str(w.message) for w in caught if "TensorBoard" in str(w.message)]
    assert len(messages) == 1 and "is off" in messages[0], messages
    assert fresh_logger._writers == {} and fresh_logger._disabled == set()
