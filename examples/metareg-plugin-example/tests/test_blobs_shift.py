"""blobs-shift: disjoint class splits, target images are the inverted source images, episodes from the generator."""
from __future__ import annotations

import pytest
import torch

import metareg
from metareg_plugin_example.blobs_shift import BlobsShift, circular_shift


def _bench(**settings):
    return BlobsShift(BlobsShift.Config(**settings))


def test_circular_shift_equals_torch_roll_image_by_image():
    images = torch.randn(4, 3, 6, 7)
    shifts = torch.randint(-2, 3, (4, 3, 2), generator=torch.Generator().manual_seed(0))
    shifted = circular_shift(images, shifts)
    for i in range(4):
        for j in range(3):
            dy, dx = shifts[i, j].tolist()
            assert torch.equal(shifted[i, j], torch.roll(images[i, j], (dy, dx), dims=(0, 1)))


def test_the_three_splits_own_disjoint_classes():
    bench = _bench()
    owned = [set(bench.classes[s].tolist()) for s in ("train", "val", "test")]
    assert [len(o) for o in owned] == [24, 8, 8]
    assert not (owned[0] & owned[1] or owned[0] & owned[2] or owned[1] & owned[2])


def test_test_images_are_inverted_instances_of_their_class_pattern():
    bench = _bench(noise_std=0.0, max_shift=0)
    batch = bench.sample("test", 2, torch.Generator().manual_seed(0))
    source = bench.sample("val", 2, torch.Generator().manual_seed(0))
    def pattern_of(image, split):
        return [c for c in bench.classes[split].tolist() if torch.allclose(image, bench.prototypes[c], atol=1e-6)]

    for image in batch.support_x.flatten(0, 1):
        assert len(pattern_of(1 - image[0], "test")) == 1 and not pattern_of(image[0], "test")
    for image in source.support_x.flatten(0, 1):
        assert len(pattern_of(image[0], "val")) == 1


def test_episodes_follow_the_spec_and_each_query_matches_its_labelled_class():
    bench = _bench(noise_std=0.0, max_shift=0, k_shot=2, n_query=3)
    batch = bench.sample("train", 3, torch.Generator().manual_seed(1))
    assert batch.support_x.shape == (3, 10, 1, 16, 16) and batch.query_x.shape == (3, 15, 1, 16, 16)
    for t in range(3):
        for q in range(15):
            same = [s for s in range(10) if torch.equal(batch.support_x[t, s], batch.query_x[t, q])]
            assert same and all(batch.support_y[t, s] == batch.query_y[t, q] for s in same)


def test_the_target_pool_is_fresh_inverted_instances_of_test_classes():
    bench = _bench()
    pool = bench.target_pool(64, torch.Generator().manual_seed(3))
    test = bench.sample("test", 4, torch.Generator().manual_seed(3))
    assert pool.shape == (64, 1, 16, 16)
    seen = {tuple(x.flatten().tolist()) for x in torch.cat([test.support_x, test.query_x], 1).flatten(0, 1)}
    assert not seen & {tuple(x.flatten().tolist()) for x in pool}
    assert pool.mean() > 0.5 > bench.sample("train", 4, torch.Generator().manual_seed(3)).support_x.mean()


def test_too_few_classes_for_n_way_is_a_config_error_naming_the_split():
    with pytest.raises(metareg.ConfigError, match="val_classes=3"):
        _bench(val_classes=3)
