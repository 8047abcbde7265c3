"""A run's wall time split into setup, meta-training, validation and test, as the engine ran them, stored with it."""
from __future__ import annotations

import pytest

from metareg.run.phases import PhaseClock, describe
from metareg.store.database import Store


def test_a_runs_phases_are_stored_and_add_up_to_its_wall_time(run_cli, tmp_path):
    code, _, err = run_cli("bench", "--learner", "maml", "--benchmark", "sinusoid", "--quiet",
                           "train.meta_iterations=20", "train.val_every=10", "train.val_tasks=50",
                           "train.test_tasks=200", "train.eval_batch_size=25")
    assert code == 0, err
    [row] = Store(tmp_path / "store").runs()
    assert set(row.phases) == {"setup", "train", "val", "test"}
    assert row.phases["val"] > 0 and row.phases["test"] > 0 and row.phases["train"] > 0
    assert sum(row.phases.values()) == pytest.approx(row.wall_time, abs=0.01)
    code, out, _ = run_cli("runs", "show", str(row.id))
    assert code == 0 and "time split" in out and "val " in out


def test_the_clock_times_each_phase_and_leaves_the_rest_to_training():
    clock = PhaseClock()
    with clock.phase("val"):
        pass
    with pytest.raises(RuntimeError):
        with clock.phase("test"):  # a phase that fails is timed too
            raise RuntimeError
    split = clock.split(10.0)
    assert list(split) == ["setup", "train", "val", "test"] and split["train"] == pytest.approx(10.0, abs=0.01)
    assert describe({"setup": 0.0, "train": 6.0, "val": 3.0, "test": 1.0}, 10.0) == \
        "train 6.0 s (60%), val 3.0 s (30%), test 1.0 s (10%)"
    assert describe(None, 5.0) is None
