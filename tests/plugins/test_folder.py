"""folder: datasets on disk in the Omniglot, Office and mini-ImageNet layouts; tiny trees are made here with Pillow."""
from __future__ import annotations


import pytest
import torch

pytest.importorskip("PIL", reason="folder reads images with Pillow")


import metareg  # noqa: E402
from metareg.toolkit.tasks import torch_generator  # noqa: E402
from metareg_plugins.folder import Folder  # noqa: E402
from helpers.folders import EPISODE, SIZE, episode_files, make_miniimagenet, make_office, make_omniglot, pixel_keys


@pytest.fixture(scope="module")
def omniglot(tmp_path_factory):
    return make_omniglot(tmp_path_factory.mktemp("omniglot"))


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    return make_office(tmp_path_factory.mktemp("office"))


def test_omniglot_episodes_have_the_promised_shape_range_and_ink(omniglot):
    bench = Folder(Folder.Config(path=str(omniglot), layout="omniglot", **EPISODE))
    batch = bench.sample("test", 3, torch_generator(0, "test"))
    assert batch.support_x.shape == (3, 2, 1, SIZE, SIZE) and batch.query_x.shape == (3, 4, 1, SIZE, SIZE)
    assert torch.equal(batch.query_y[1], torch.tensor([0, 0, 1, 1]))
    assert 0.0 <= batch.query_x.min() and batch.query_x.max() <= 1.0
    assert batch.query_x.mean() < 0.5  # inverted: the white page is 0, the ink 1
    again = bench.sample("test", 3, torch_generator(0, "test"))
    assert torch.equal(batch.query_x, again.query_x)  # seeded


def test_omniglot_splits_are_disjoint_and_background_alphabets_are_the_source(omniglot):
    bench = Folder(Folder.Config(path=str(omniglot), layout="omniglot", **EPISODE))
    assert bench.source == ["Alphabet0", "Alphabet1"] and bench.target == ["Alphabet2", "Alphabet3"]
    splits = ("train", "val", "test", "pool")
    for a in splits:
        for b in splits:
            if a < b:
                assert not set(bench.indices[a]) & set(bench.indices[b]), (a, b)
                assert not episode_files(bench, a) & episode_files(bench, b), (a, b)
    alphabet = lambda key: key.split("/")[0]  # noqa: E731
    assert {alphabet(k) for s in ("train", "val") for k in bench.indices[s]} <= set(bench.source)
    assert {alphabet(k) for s in ("test", "pool") for k in bench.indices[s]} <= set(bench.target)
    assert len(bench.indices["val"]) == 2 and len(bench.indices["pool"]) == 3  # 20% of 10, 30% of 10
    every = set().union(*(episode_files(bench, s) for s in splits))
    assert every == set(omniglot.rglob("*.png"))  # every image is in exactly one split


def test_target_pool_gives_inputs_only_and_never_a_test_image(omniglot):
    bench = Folder(Folder.Config(path=str(omniglot), layout="omniglot", **EPISODE))
    pool = bench.target_pool(40, torch_generator(0, "target"))
    assert isinstance(pool, torch.Tensor) and pool.shape == (40, 1, SIZE, SIZE)
    assert set(bench.pool_files) == episode_files(bench, "pool") and not set(bench.pool_files) & episode_files(bench, "test")
    test_images = pixel_keys(bench.load(sorted(episode_files(bench, "test"))))
    pool_images = pixel_keys(bench.load(sorted(episode_files(bench, "pool"))))
    drawn = pixel_keys(pool)
    assert drawn <= pool_images and not drawn & test_images
    # and none of them comes up in test episodes either
    batch = bench.sample("test", 10, torch_generator(0, "test"))
    assert not (pixel_keys(batch.support_x) | pixel_keys(batch.query_x)) & drawn


def test_omniglot_explicit_domains_seeded_split_and_no_shift(tmp_path):
    root = make_omniglot(tmp_path / "flat", split_folders=False, alphabets=3)
    bench = Folder(Folder.Config(path=str(root), layout="omniglot", source="Alphabet0,Alphabet2",
                                 target="Alphabet1", **EPISODE))
    assert bench.target == ["Alphabet1"] and {k.split("/")[0] for k in bench.indices["test"]} == {"Alphabet1"}
    seeded = Folder(Folder.Config(path=str(root), layout="omniglot", **EPISODE))  # a seeded alphabet split
    assert len(seeded.target) == 1 and not set(seeded.source) & set(seeded.target)
    flat = Folder(Folder.Config(path=str(root), layout="omniglot", target="none", **EPISODE))
    assert flat.target_pool(3, torch_generator(0)) is None and not flat.indices["pool"]
    assert not set(flat.indices["train"]) & set(flat.indices["test"]) and len(flat.indices["test"]) >= 2
    with pytest.raises(metareg.ConfigError, match="'Klingon' is not in .*found: Alphabet0, Alphabet1, Alphabet2"):
        Folder(Folder.Config(path=str(root), layout="omniglot", source="Klingon", **EPISODE))


def test_office_source_episodes_target_tests_and_a_pool_of_training_classes(office):
    bench = Folder(Folder.Config(path=str(office), layout="office", source="amazon", target="webcam",
                                 val_fraction=0.25, test_fraction=0.25, **EPISODE))
    assert bench.spec.input_shape == (3, SIZE, SIZE)
    domain = lambda f: f.relative_to(office).parts[0]  # noqa: E731
    assert {domain(f) for s in ("train", "val") for f in episode_files(bench, s)} == {"amazon"}
    assert {domain(f) for s in ("test", "pool") for f in episode_files(bench, s)} == {"webcam"}
    assert set(bench.indices["pool"]) == set(bench.indices["train"])  # target images of meta-training classes
    assert not set(bench.indices["test"]) & (set(bench.indices["train"]) | set(bench.indices["val"]))
    assert [len(bench.indices[s]) for s in ("train", "val", "test")] == [4, 2, 2]
    batch = bench.sample("test", 2, torch_generator(0, "test"))
    assert batch.support_x.shape == (2, 2, 3, SIZE, SIZE) and 0 <= batch.support_x.min() <= batch.support_x.max() <= 1
    pool = bench.target_pool(16, torch_generator(0, "target"))
    assert pool.shape == (16, 3, SIZE, SIZE)
    assert not pixel_keys(pool) & pixel_keys(bench.load(sorted(episode_files(bench, "test"))))
    with pytest.raises(metareg.ConfigError, match="name the source and target domains.*amazon, dslr, webcam"):
        Folder(Folder.Config(path=str(office), layout="office", **EPISODE))


def test_small_classes_are_left_out_with_a_warning(office):
    fewer = r"folder\.n_way: the \w+ split has \d+ classes, fewer than n_way=2"
    with pytest.warns(UserWarning, match="fewer than k_shot \\+ n_query = 5"):
        with pytest.raises(metareg.ConfigError, match=fewer):
            Folder(Folder.Config(path=str(office), layout="office", source="amazon", target="dslr",
                                 **{**EPISODE, "n_query": 4}))


@pytest.mark.parametrize("as_csv", [True, False], ids=["csv", "folders"])
def test_miniimagenet_uses_its_own_class_splits_and_has_no_target_pool(tmp_path, as_csv):
    root = make_miniimagenet(tmp_path / "mini", as_csv=as_csv)
    bench = Folder(Folder.Config(path=str(root), layout="miniimagenet", **EPISODE))
    assert {s: sorted(bench.indices[s]) for s in ("train", "val", "test")} == {
        s: [f"n0{i}{c:06d}" for c in range(3)] for i, s in enumerate(("train", "val", "test"))}
    assert bench.target_pool(4, torch_generator(0)) is None
    batch = bench.sample("val", 2, torch_generator(0))
    assert batch.query_x.shape == (2, 4, 3, SIZE, SIZE)


def test_a_missing_path_or_a_wrong_layout_is_a_config_error_with_an_example_tree(tmp_path, omniglot):
    missing = tmp_path / "nowhere"
    with pytest.raises(metareg.ConfigError) as err:
        Folder(Folder.Config(path=str(missing), layout="omniglot"))
    assert str(missing) in str(err.value) and "does not exist" in str(err.value)
    assert "character01/" in str(err.value) and "0001_01.png" in str(err.value)
    with pytest.raises(metareg.ConfigError, match="path is not set"):
        Folder(Folder.Config(layout="office"))
    with pytest.raises(metareg.ConfigError, match="'imagenet' is not one of omniglot, office, miniimagenet"):
        Folder(Folder.Config(path=str(omniglot), layout="imagenet"))
    # an Omniglot tree read as mini-ImageNet, a mini-ImageNet tree read as Omniglot, a flat folder read as Office
    with pytest.raises(metareg.ConfigError, match="(?s)found neither train.csv.*train.csv  val.csv"):
        Folder(Folder.Config(path=str(omniglot), layout="miniimagenet"))
    mini = make_miniimagenet(tmp_path / "mini")
    with pytest.raises(metareg.ConfigError, match="found images directly in the alphabet folder .*images"):
        Folder(Folder.Config(path=str(mini), layout="omniglot"))
    with pytest.raises(metareg.ConfigError, match=f"{mini.name}.*the 'office' layout expects"):
        Folder(Folder.Config(path=str(mini / "images"), layout="office"))
    bad = tmp_path / "badcsv"
    make_miniimagenet(bad)
    (bad / "val.csv").write_text("file,class\nx.jpg,n0\n")
    with pytest.raises(metareg.ConfigError, match="val.csv needs a header with columns filename,label"):
        Folder(Folder.Config(path=str(bad), layout="miniimagenet"))


def test_folder_is_registered_and_runs_in_the_cli(run_cli, omniglot):
    from helpers.runs import TINY, json_lines

    code, out, err = run_cli("bench", "--learner", "protonet", "--benchmark", "folder", "--json", "--quiet", *TINY,
                             f"benchmark.folder.path={omniglot}", "benchmark.folder.n_way=2",
                             "benchmark.folder.n_query=2", "benchmark.folder.image_size=16",
                             "backbone.conv4.channels=4", "train.meta_batch_size=2")
    assert code == 0, err
    (result,) = json_lines(out)
    assert result["status"] == "done" and result["parts"]["benchmark"] == "folder"
