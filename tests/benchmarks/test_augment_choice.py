"""The validation-only choice of a generator's n_aug and aug_weight (benchmarks.augment_choice): it reads each run's
validation history and nothing else, so a setting that looks best on test episodes is not chosen for it."""
from __future__ import annotations

from benchmarks import augment_choice
from metareg.store.database import Store
from tests.helpers.boards import run_config, store_run


def _run(store, learner, generator, val, test, n_aug=2, aug_weight=0.3):
    config = run_config(learner, None, 0, benchmark="glyph-world")
    config["run"]["generator"] = generator
    if generator:
        config["generator"] = {generator: {"n_aug": n_aug, "aug_weight": aug_weight}}
    history = [{"iteration": 100, "loss": 1.0, "val_accuracy": val - 0.05}, {"iteration": 200, "val_accuracy": val},
               {"iteration": 300, "val_accuracy": val - 0.02}]
    store_run(store, config, [test], history=history)


def test_the_choice_follows_validation_even_where_test_accuracy_disagrees(tmp_path, capsys):
    store = Store(tmp_path)
    for learner in ("protonet", "maml"):
        _run(store, learner, None, val=0.70, test=0.60)
        # best on test, worse than no generator on validation
        _run(store, learner, "jitter", val=0.65, test=0.95, n_aug=1, aug_weight=1.0)
        # best on validation, poor on test
        _run(store, learner, "jitter", val=0.74, test=0.40, n_aug=4, aug_weight=0.1)
    assert augment_choice.main(["--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "chosen for jitter on validation: n_aug=4 aug_weight=0.1" in out
    assert "| 4 | 0.1 | weighted | +0.040 | +0.040 | +0.040 |" in out
    assert "| 1 | 1 | weighted | -0.050 | -0.050 | -0.050 |" in out


def test_a_run_without_validation_points_is_left_out_not_scored_from_its_test_metric(tmp_path):
    store = Store(tmp_path)
    config = run_config("protonet", None, 0, benchmark="glyph-world")
    store_run(store, config, [0.99], history=[{"iteration": 100, "loss": 1.0}])
    baseline, by_generator = augment_choice.scores(Store(tmp_path, readonly=True))
    assert baseline == {} and not by_generator


def test_a_setting_missing_a_learner_is_shown_but_never_chosen(tmp_path, capsys):
    store = Store(tmp_path)
    for learner in ("protonet", "maml"):
        _run(store, learner, None, val=0.70, test=0.6)
        _run(store, learner, "mtgan", val=0.71, test=0.6, n_aug=1, aug_weight=0.3)
    _run(store, "protonet", "mtgan", val=0.90, test=0.6, n_aug=2, aug_weight=1.0)
    augment_choice.main(["--store", str(tmp_path)])
    out = capsys.readouterr().out
    assert "chosen for mtgan on validation: n_aug=1 aug_weight=0.3" in out
    assert "| 2 | 1 | weighted | — | +0.200 | — |" in out
