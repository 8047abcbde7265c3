"""folder's pool regimes: ``shared`` (target images of the training classes) and ``disjoint`` (of other classes)."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("PIL", reason="folder reads images with Pillow")

import metareg  # noqa: E402
from metareg.toolkit.tasks import torch_generator  # noqa: E402
from metareg_plugins.folder import Folder  # noqa: E402
from helpers.folders import EPISODE, episode_files, make_miniimagenet, make_office, make_omniglot, pixel_keys  # noqa: E402

OFFICE = dict(layout="office", source="amazon", target="webcam", val_fraction=0.25, test_fraction=0.25, **EPISODE)


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    return make_office(tmp_path_factory.mktemp("office"))


@pytest.fixture(scope="module")
def omniglot(tmp_path_factory):
    return make_omniglot(tmp_path_factory.mktemp("omniglot"))


def _never_leaks_a_test_class_or_image(bench: Folder) -> None:
    """Test classes and test images are in no other split, and no pool image drawn equals a test image."""
    test_classes, test_files = set(bench.indices["test"]), episode_files(bench, "test")
    for split in ("train", "val", "pool"):
        assert not set(bench.indices[split]) & test_classes, split
        assert not episode_files(bench, split) & test_files, split
    assert set(bench.pool_files) == episode_files(bench, "pool")
    drawn = pixel_keys(bench.target_pool(64, torch_generator(0, "target")))
    assert not drawn & pixel_keys(bench.load(sorted(test_files)))


def _same_evaluation_episodes(a: Folder, b: Folder) -> None:
    assert a.indices["test"] == b.indices["test"] and a.indices["val"] == b.indices["val"]
    for split in ("test", "val"):
        x, y = (bench.sample(split, 4, torch_generator(0, split)) for bench in (a, b))
        assert torch.equal(x.support_x, y.support_x) and torch.equal(x.query_x, y.query_x), split


def test_office_pool_regimes_hold_target_images_of_training_or_of_held_out_classes(office):
    default = Folder(Folder.Config(path=str(office), **OFFICE))
    shared = Folder(Folder.Config(path=str(office), pool="shared", **OFFICE))
    disjoint = Folder(Folder.Config(path=str(office), pool="disjoint", **OFFICE))
    assert default.pool_regime == "shared" and default.indices == shared.indices  # today's office pool, unchanged
    domain = lambda f: f.relative_to(office).parts[0]  # noqa: E731
    for bench in (shared, disjoint):
        assert bench.pool_files and {domain(f) for f in bench.pool_files} == {"webcam"}
        assert {domain(f) for s in ("train", "val") for f in episode_files(bench, s)} == {"amazon"}
        _never_leaks_a_test_class_or_image(bench)
    # shared: every pool image is a target-domain image of a training class, and all of them are there
    assert set(shared.indices["pool"]) == set(shared.indices["train"])
    assert set(shared.pool_files) == {f for k in shared.indices["train"] for f in (office / "webcam" / k).iterdir()}
    # disjoint: the pool classes are held out of training; no pool class is a training, val or test class
    assert disjoint.pool_regime == "disjoint" and disjoint.indices["pool"]
    others = set(disjoint.indices["train"]) | set(disjoint.indices["val"]) | set(disjoint.indices["test"])
    assert not set(disjoint.indices["pool"]) & others
    assert set(disjoint.indices["train"]) | set(disjoint.indices["pool"]) == set(shared.indices["train"])
    assert [len(disjoint.indices[s]) for s in ("train", "val", "test", "pool")] == [3, 2, 2, 1]
    _same_evaluation_episodes(shared, disjoint)


def test_office_shared_pool_drops_a_training_class_that_is_left_out(tmp_path):
    root = make_office(tmp_path / "office")
    before = Folder(Folder.Config(path=str(root), pool="shared", **OFFICE))
    small = sorted(before.indices["train"])[0]
    source_dir = root / "amazon" / "images" / small
    for f in sorted(source_dir.iterdir())[:2]:  # 2 left, fewer than k_shot + n_query = 3
        f.unlink()
    with pytest.warns(UserWarning, match="1 train classes have fewer than"):
        after = Folder(Folder.Config(path=str(root), pool="shared", **OFFICE))
    assert small not in after.indices["train"] and set(after.indices["pool"]) == set(after.indices["train"])


def test_omniglot_pool_is_disjoint_by_default_and_shared_is_a_config_error(omniglot):
    default = Folder(Folder.Config(path=str(omniglot), layout="omniglot", **EPISODE))
    disjoint = Folder(Folder.Config(path=str(omniglot), layout="omniglot", pool="disjoint", **EPISODE))
    assert default.pool_regime == "disjoint" and default.indices == disjoint.indices  # today's omniglot pool
    others = set(disjoint.indices["train"]) | set(disjoint.indices["val"]) | set(disjoint.indices["test"])
    assert disjoint.indices["pool"] and not set(disjoint.indices["pool"]) & others
    _never_leaks_a_test_class_or_image(disjoint)
    _same_evaluation_episodes(default, disjoint)
    with pytest.raises(metareg.ConfigError, match=r"benchmark\.folder\.pool=shared needs target-domain images of the "
                                                  r"training classes.*use benchmark\.folder\.pool=disjoint"):
        Folder(Folder.Config(path=str(omniglot), layout="omniglot", pool="shared", **EPISODE))


@pytest.mark.parametrize("pool", ["shared", "disjoint"])
def test_a_pool_regime_without_a_target_domain_is_a_config_error(tmp_path, office, omniglot, pool):
    mini = make_miniimagenet(tmp_path / "mini")
    for layout, path, extra, where in (("miniimagenet", mini, {}, "has no domains"),
                                       ("office", office, dict(source="amazon", target="none"), "target=none"),
                                       ("omniglot", omniglot, dict(target="none"), "target=none")):
        with pytest.raises(metareg.ConfigError, match=rf"benchmark\.folder\.pool={pool}: the {layout} layout .*"
                                                      rf"{where}.*leave benchmark\.folder\.pool=auto"):
            Folder(Folder.Config(path=str(path), layout=layout, pool=pool, **extra, **EPISODE))
        assert Folder(Folder.Config(path=str(path), layout=layout, **extra, **EPISODE)).target_pool(2, None) is None


def test_office_disjoint_needs_training_classes_to_spare_and_unknown_regimes_are_refused(office):
    with pytest.raises(metareg.ConfigError, match=r"benchmark\.folder\.pool=disjoint holds pool_fraction=0\.5 of "
                                                  r"the 4 meta-training classes .* leaving 2, fewer than n_way=3.*"
                                                  r"pool=shared"):
        Folder(Folder.Config(path=str(office), pool="disjoint", **{**OFFICE, "n_way": 3, "pool_fraction": 0.5}))
    with pytest.raises(metareg.ConfigError, match=r"benchmark\.folder\.pool must be one of auto, disjoint, shared"):
        Folder(Folder.Config(path=str(office), pool="mixed", **OFFICE))


def test_folder_pool_regimes_are_evaluated_on_the_very_same_episodes(registry, monkeypatch, office):
    """``pool`` is a pool-only setting: the engine draws the same test episodes whatever the regime."""
    from metareg.run.config import parse_overrides, resolve
    from metareg.run.engine import Run

    assert Folder.pool_only_settings == {"pool": "disjoint"}
    seen = {}
    folder = [f"benchmark.folder.{k}={v}" for k, v in {**OFFICE, "path": office, "image_size": 16}.items()]
    for pool in ("auto", "shared", "disjoint"):
        settings = parse_overrides(folder + [f"benchmark.folder.pool={pool}", "backbone.conv4.channels=4",
                                             "train.eval_batch_size=3"])
        cfg, selection = resolve(registry, settings, {"learner": "protonet", "benchmark": "folder", "device": "cpu"})
        run = Run(cfg, selection, registry)
        batches = []
        monkeypatch.setattr(run.learner, "predict", lambda b, keep=batches, run=run: keep.append(b.query_x) or
                            run.learner.__class__.predict(run.learner, b))
        run.evaluate("test", 3)
        seen[pool] = batches[0]
    assert seen["auto"].shape[-3:] == (3, 16, 16)
    assert torch.equal(seen["auto"], seen["shared"]) and torch.equal(seen["shared"], seen["disjoint"])


def _domain_of(office, files) -> set[str]:
    return {f.relative_to(office).parts[0] for f in files}


def test_office_source_test_draws_the_same_classes_from_the_source_domain(office):
    base = Folder(Folder.Config(path=str(office), **OFFICE))
    source = Folder(Folder.Config(path=str(office), test_domain="source", **OFFICE))
    assert source.indices["test"].keys() == base.indices["test"].keys()
    for k, files in source.indices["test"].items():
        assert _domain_of(office, files) == {"amazon"} and len(files) == len(base.indices["test"][k])
    for split in ("train", "val", "pool"):
        assert source.indices[split] == base.indices[split]
    assert _episode_classes(base) == _episode_classes(source)


def _episode_classes(bench) -> list[list[str]]:
    """The class of every support image of test episodes drawn with one seed, found by the image's pixels."""
    owner = {bench.load.decode(f).numpy().tobytes(): k for k, files in bench.indices["test"].items() for f in files}
    batch = bench.sample("test", 4, torch_generator(0, "test"))
    as_bytes = (batch.support_x * 255).round().to(torch.uint8)
    return [[owner[x.numpy().tobytes()] for x in task] for task in as_bytes]


def test_office_oracle_and_both_train_on_target_images_of_the_training_classes(office):
    base = Folder(Folder.Config(path=str(office), **OFFICE))
    oracle = Folder(Folder.Config(path=str(office), train_domain="target", **OFFICE))
    both = Folder(Folder.Config(path=str(office), train_domain="both", **OFFICE))
    assert oracle.indices["train"].keys() == base.indices["train"].keys() == both.indices["train"].keys()
    for k in base.indices["train"]:
        assert _domain_of(office, oracle.indices["train"][k]) == {"webcam"}
        assert both.indices["train"][k] == base.indices["train"][k] + oracle.indices["train"][k]
    for split in ("val", "test"):
        assert oracle.indices[split] == base.indices[split]


def test_office_target_validation_uses_the_validation_classes_target_images(office):
    base = Folder(Folder.Config(path=str(office), **OFFICE))
    validated = Folder(Folder.Config(path=str(office), val_domain="target", **OFFICE))
    assert validated.indices["val"].keys() == base.indices["val"].keys()
    for k in base.indices["val"]:
        assert _domain_of(office, validated.indices["val"][k]) == {"webcam"} != _domain_of(office,
                                                                                          base.indices["val"][k])
    for split in ("train", "test", "pool"):
        assert validated.indices[split] == base.indices[split]


@pytest.mark.parametrize("key, value", [("test_domain", "source"), ("train_domain", "target"),
                                        ("val_domain", "target")])
def test_domain_settings_without_an_office_target_are_config_errors(tmp_path, office, omniglot, key, value):
    for layout, path, extra in (("omniglot", omniglot, {}), ("office", office, dict(source="amazon", target="none"))):
        with pytest.raises(metareg.ConfigError, match=rf"benchmark\.folder\.{key}={value} needs the office layout"):
            Folder(Folder.Config(path=str(path), layout=layout, **{key: value}, **extra, **EPISODE))
