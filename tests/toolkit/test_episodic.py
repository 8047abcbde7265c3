"""EpisodeSplits: three class pools checked once against the episode shape, and episodes drawn as ClassPool draws."""
from __future__ import annotations

import pytest
import torch

import metareg
from metareg import ClassPool, EpisodeSplits, TaskSpec, torch_generator

SHAPE = (1, 4, 4)


def _classes(n_classes: int, per_class: int, offset: int = 0) -> dict[int, torch.Tensor]:
    """Classes whose every sample is distinct (its value names the class and the sample)."""
    return {offset + c: (offset + c) * 100 + torch.arange(per_class, dtype=torch.float32).view(-1, 1, 1, 1)
            .expand(-1, *SHAPE).clone() for c in range(n_classes)}


def _splits(train: int = 4, val: int = 3, test: int = 3, per_class: int = 5) -> dict:
    return {"train": _classes(train, per_class), "val": _classes(val, per_class, 10),
            "test": _classes(test, per_class, 20)}


def _episodes(by_split=None, n_way=3, k_shot=1, n_query=2, **kwargs) -> EpisodeSplits:
    return EpisodeSplits(_splits() if by_split is None else by_split, SHAPE, n_way, k_shot, n_query,
                         key="benchmark.toy", fewer_classes="lower n_way", smaller_classes="lower n_query", **kwargs)


def test_episodes_are_the_class_pools_draws_and_the_spec_states_the_shape():
    episodes = _episodes()
    assert episodes.spec == TaskSpec("classification", SHAPE, 3, 1, 2, n_way=3)
    for split, classes in _splits().items():
        got = episodes.sample(split, 4, torch_generator(0, split))
        want = ClassPool(classes).episodes(4, 3, 1, 2, torch_generator(0, split))
        for name in ("support_x", "support_y", "query_x", "query_y"):
            assert torch.equal(getattr(got, name), getattr(want, name)), (split, name)
        assert set(got.support_x[:, :, 0, 0, 0].flatten().div(100).floor().int().tolist()) <= set(classes)


def test_an_unknown_split_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown split 'pool'; use train, val or test"):
        _episodes().sample("pool", 1, torch_generator(0))


@pytest.mark.parametrize("by_split, match", [
    (_splits(val=2), r"benchmark\.toy\.n_way: the val split has 2 classes, fewer than n_way=3; lower n_way"),
    (_splits(test=0), r"benchmark\.toy\.n_way: the test split has 0 classes, fewer than n_way=3; lower n_way"),
    (_splits(per_class=2), r"benchmark\.toy\.n_query: a train class has 2 samples, fewer than k_shot \+ n_query "
                           r"= 3; lower n_query"),
])
def test_a_shape_the_splits_cannot_serve_is_a_config_error_naming_the_key_and_the_fix(by_split, match):
    with pytest.raises(metareg.ConfigError, match=match):
        _episodes(by_split)


def test_the_samples_error_names_the_setting_given():
    with pytest.raises(metareg.ConfigError, match=r"benchmark\.toy\.renderings: a train class has 2 samples"):
        _episodes(_splits(per_class=2), samples_key="renderings")


def test_the_three_splits_and_no_others_are_required():
    with pytest.raises(ValueError, match="needs the splits train, val, test"):
        _episodes({"train": _classes(3, 3), "test": _classes(3, 3)})
    with pytest.raises(ValueError, match="needs the splits train, val, test"):
        _episodes({**_splits(), "pool": _classes(3, 3)})


def test_pools_over_items_draw_the_same_episodes_through_load():
    data = _splits()
    items = {split: {c: list(range(len(v))) for c, v in classes.items()} for split, classes in data.items()}
    owner = {}

    def load(pairs):
        return torch.stack([data[owner["split"]][c][i] for c, i in pairs])

    by_items = {split: {c: [(c, i) for i in rows] for c, rows in classes.items()} for split, classes in items.items()}
    lazy, eager = _episodes(by_items, load=load), _episodes(data)
    for split in data:
        owner["split"] = split
        a = lazy.sample(split, 3, torch_generator(1, split))
        b = eager.sample(split, 3, torch_generator(1, split))
        assert torch.equal(a.support_x, b.support_x) and torch.equal(a.query_x, b.query_x)


def test_the_built_in_image_benchmarks_share_one_training_protocol(registry):
    image = [info.cls for info in registry.all_parts() if info.family == "benchmark" and info.builtin
             and info.cls.task_kind == "classification" and info.cls.default_backbone == "conv4"]
    assert {cls.name for cls in image} >= {"digits", "digits-shift", "glyphs", "glyph-world", "folder"}
    assert all(cls.train_defaults == metareg.IMAGE_TRAIN_DEFAULTS for cls in image)
    assert all(cls.train_defaults is not metareg.IMAGE_TRAIN_DEFAULTS for cls in image)  # copies, never the one
