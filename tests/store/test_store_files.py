"""A store's files are its own: two stores in one folder never overwrite, load or prune each other's models, and
a model file is loaded only for the run whose config hash it carries."""
from __future__ import annotations

import shutil

import pytest

from metareg.run.files import model_path
from metareg.store.database import Store, files_dir

from helpers.runs import TINY_DIGITS


def test_the_folder_store_owns_its_folder_and_a_named_store_a_folder_of_its_own(tmp_path):
    assert files_dir(tmp_path / "results.sqlite") == tmp_path
    assert files_dir(tmp_path / "a.db") == tmp_path / "a.db.files"
    assert files_dir(tmp_path / "a.db") != files_dir(tmp_path / "b.db") != files_dir(tmp_path / "a.sqlite")


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory):
    """Two stores in one folder, each with one digits run (id 1 in both), of different learners."""
    from metareg.commands.cli import main

    folder = tmp_path_factory.mktemp("shared")
    for name, learner in (("a.db", "protonet"), ("b.db", "versa")):
        assert main(["bench", "--store", str(folder / name), "--quiet", "--learner", learner, "--benchmark",
                     "digits", *TINY_DIGITS]) == 0
    return folder


def test_two_stores_in_one_folder_keep_their_own_models(two_stores):
    a, b = Store(two_stores / "a.db"), Store(two_stores / "b.db")
    [row_a], [row_b] = a.runs(), b.runs()
    assert row_a.id == row_b.id == 1
    assert model_path(a.files_dir, 1).is_file() and model_path(b.files_dir, 1).is_file()
    assert not (two_stores / "models").exists()


def test_predict_loads_each_stores_own_model(two_stores):
    from metareg.run.predict import load_run

    assert load_run(1, two_stores / "a.db").run.parts["learner"] == "protonet"
    assert load_run(1, two_stores / "b.db").run.parts["learner"] == "versa"


def test_a_model_file_of_another_run_is_refused(two_stores, tmp_path, run_cli):
    for name in ("a.db", "b.db"):
        shutil.copytree(two_stores / f"{name}.files", tmp_path / f"{name}.files")
        shutil.copy(two_stores / name, tmp_path / name)
    b_model = model_path(Store(tmp_path / "b.db").files_dir, 1)
    shutil.copy(b_model, model_path(Store(tmp_path / "a.db").files_dir, 1))  # b's weights under a's run 1
    support = tmp_path / "support"
    code, out, err = run_cli("predict", "--run", "1", "--store", str(tmp_path / "a.db"), "--support", str(support),
                             "--query", str(support))
    assert code == 2 and "holds the weights of another run" in err and "Traceback" not in err


def test_a_legacy_model_beside_a_named_store_is_used_only_if_it_is_that_runs(two_stores, tmp_path):
    """Stores named other than results.sqlite once kept models in ``models/`` beside them: still found, but only
    trusted after their config hash is checked."""
    from metareg.errors import MetaregError
    from metareg.run.predict import load_run

    shutil.copy(two_stores / "a.db", tmp_path / "a.db")
    (tmp_path / "models").mkdir()
    shutil.copy(model_path(two_stores / "a.db.files", 1), tmp_path / "models" / "run-1.pt")
    assert load_run(1, tmp_path / "a.db").run.parts["learner"] == "protonet"
    shutil.copy(model_path(two_stores / "b.db.files", 1), tmp_path / "models" / "run-1.pt")
    with pytest.raises(MetaregError, match="holds the weights of another run"):
        load_run(1, tmp_path / "a.db")


def test_pruning_one_store_leaves_the_others_models(two_stores, tmp_path, run_cli):
    for name in ("a.db", "b.db"):
        shutil.copytree(two_stores / f"{name}.files", tmp_path / f"{name}.files")
        shutil.copy(two_stores / name, tmp_path / name)
    code, out, err = run_cli("runs", "prune", "--keep-models", "none", "--store", str(tmp_path / "a.db"))
    assert code == 0, err
    assert not model_path(tmp_path / "a.db.files", 1).exists() and model_path(tmp_path / "b.db.files", 1).is_file()
