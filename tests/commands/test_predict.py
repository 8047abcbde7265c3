"""A stored run labels your images: ``metareg predict`` and ``metareg.load_run`` after a real run on digits."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from metareg.commands.cli import main
from metareg.run.files import model_path
from metareg.store.database import Store

# a short ProtoNet run on digits: meta-trained on 5 digit classes, its test classes are the other 5
SETTINGS = ["train.meta_iterations=60", "train.val_every=30", "train.val_tasks=20", "train.test_tasks=20",
            "backbone.conv4.channels=16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    assert main(["bench", "--learner", "protonet", "--benchmark", "digits", "--store", str(store), "--quiet",
                 *SETTINGS]) == 0
    (row,) = Store(store / "results.sqlite").runs()
    return store, row


def _write_digits(root, classes, per_class, skip):
    """scikit-learn's 8x8 digits as PNG files (ink bright, as they are), ``per_class`` of each class after ``skip``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    data = load_digits()
    written = {}
    for c in classes:
        rows = np.flatnonzero(data.target == c)[skip:skip + per_class]
        for i, r in enumerate(rows):
            path = root / f"{c}-{i}.png"
            Image.fromarray((data.images[r] * 255 / 16).round().astype(np.uint8), mode="L").save(path)
            written[path] = c
    return written


def _folders(tmp_path, classes):
    support, query = tmp_path / "support", tmp_path / "query"
    for c in classes:
        (support / f"digit{c}").mkdir(parents=True)
        _write_digits(support / f"digit{c}", [c], 1, skip=0)
    query.mkdir()
    truth = _write_digits(query, classes, 12, skip=1)
    return support, query, truth


def test_a_finished_run_keeps_its_weights_beside_the_store(trained):
    store, row = trained
    assert row.status == "done" and model_path(store, row.id).is_file()


def test_predict_labels_new_images_of_the_support_classes_well_above_chance(trained, tmp_path, capsys):
    store, row = trained
    from metareg.run.predict import load_run

    classes = sorted(load_run(row.id, store=store).run.benchmark.indices["test"])  # digits it never trained on
    support, query, truth = _folders(tmp_path, classes)
    out = tmp_path / "labels.csv"
    assert main(["predict", "--run", str(row.id), "--support", str(support), "--query", str(query),
                 "--store", str(store), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(truth) == 60  # one row per query image
    assert set(rows[0]) == {"file", "predicted", *[f"p_digit{c}" for c in classes]}
    by_file = {str(path): c for path, c in truth.items()}
    correct = sum(r["predicted"] == f"digit{by_file[r['file']]}" for r in rows)
    assert correct / len(rows) > 0.35  # chance is 0.2; 1-shot from one image per class, as the run was tested
    for r in rows:
        assert abs(sum(float(r[f"p_digit{c}"]) for c in classes) - 1) < 1e-4


def test_json_lines_and_the_python_api_give_the_same_labels(trained, tmp_path, capsys):
    store, row = trained
    from metareg.run.predict import load_run

    loaded = load_run(row.id, store=store)
    classes = sorted(loaded.run.benchmark.indices["test"])
    support, query, _ = _folders(tmp_path, classes)
    assert main(["predict", "--run", str(row.id), "--support", str(support), "--query", str(query),
                 "--store", str(store), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    data = loaded.load_folders(support, query)
    probabilities = loaded.predict(data.support_x, data.support_y, data.query_x)
    assert [line["predicted"] for line in lines] == [data.classes[int(p.argmax())] for p in probabilities]
    assert probabilities.shape == (60, 5)


def _error(capsys, *argv):
    assert main(list(argv)) == 2
    return capsys.readouterr().err


def test_bad_input_is_exit_2_with_the_problem_and_the_fix(trained, tmp_path, capsys):
    store, row = trained
    classes = [0, 1, 2, 3, 4]
    support, query, _ = _folders(tmp_path, classes)
    base = ["--support", str(support), "--query", str(query), "--store", str(store)]
    assert "no run 99" in _error(capsys, "predict", "--run", "99", *base)
    # four class folders for a 5-way run
    for f in (support / "digit4").iterdir():
        f.unlink()
    (support / "digit4").rmdir()
    assert "n_way" in _error(capsys, "predict", "--run", str(row.id), *base)
    (support / "digit4").mkdir()
    _write_digits(support / "digit4", [4], 1, skip=0)
    (query / "broken.png").write_bytes(b"not an image")
    message = _error(capsys, "predict", "--run", str(row.id), *base)
    assert "broken.png" in message and "cannot read image" in message
    (query / "broken.png").unlink()
    model_path(store, row.id).rename(tmp_path / "moved.pt")
    try:
        assert "no stored weights" in _error(capsys, "predict", "--run", str(row.id), *base)
    finally:
        (tmp_path / "moved.pt").rename(model_path(store, row.id))


def test_a_regression_run_is_refused(tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["bench", "--learner", "maml", "--benchmark", "sinusoid", "--store", str(store), "--quiet",
                 "train.meta_iterations=5", "train.val_every=0", "train.test_tasks=5"]) == 0
    (row,) = Store(store / "results.sqlite").runs()
    assert model_path(store, row.id).is_file()
    (tmp_path / "s" / "a").mkdir(parents=True)
    (tmp_path / "q").mkdir()
    message = _error(capsys, "predict", "--run", str(row.id), "--support", str(tmp_path / "s"), "--query",
                     str(tmp_path / "q"), "--store", str(store))
    assert "regression run" in message


def test_pruning_keeps_the_best_run_of_each_combination_and_every_result(trained, tmp_path):
    from metareg.board.prune import prune_models

    store, row = trained
    db = Store(store / "results.sqlite")
    copy = tmp_path / "spare.pt"
    copy.write_bytes(model_path(store, row.id).read_bytes())
    assert prune_models(db, "best") == []  # one run: it is its combination's best
    removed = prune_models(db, "none")
    assert removed == [model_path(store, row.id)] and not removed[0].exists()
    assert db.get(row.id).metrics  # results stay
    copy.rename(model_path(store, row.id))
    with pytest.raises(Exception, match="keep-models"):
        prune_models(db, "some")
    assert torch.load(model_path(store, row.id), weights_only=True)["format"] == 1
