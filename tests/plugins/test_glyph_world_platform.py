"""glyph-world's platform domain: catalogue renderings to photographs of the very same renderings (``camera``).

The small world of ``helpers.glyph_worlds`` (print faces only are photographed), built once per session.
"""
from __future__ import annotations

import pytest
import torch

from helpers.glyph_worlds import build

import metareg  # noqa: E402
from metareg import seed_hash  # noqa: E402
from metareg.toolkit.tasks import torch_generator  # noqa: E402
from metareg_plugins.glyph_world import camera  # noqa: E402


@pytest.fixture(scope="module")
def platform(small_world):
    return build(small_world, domains="platform")


@pytest.fixture(scope="module")
def shared(small_world, platform):
    return build(small_world, domains="platform", pool="shared")


def _photo_of(bench) -> dict[int, int]:
    """Photograph row -> the world row it shows."""
    return {p: r for r, p in bench.photo_row.items()}


def _classes(bench) -> dict[str, set[int]]:
    return {split: set(by_class) for split, by_class in bench.indices.items()}


def test_source_splits_are_print_renderings_and_target_splits_their_photographs(platform):
    n, w, shows = len(platform.world.images), platform.world, _photo_of(platform)
    assert len(platform.images) == n + int((~w.handwritten_row.astype(bool)).sum())
    for split in ("train", "val"):
        for code, rows in platform.indices[split].items():
            assert rows == w.rows_of(code, False), split  # every print rendering, nothing photographed
    for split in ("test", "pool"):
        for code, rows in platform.indices[split].items():
            assert rows and all(r >= n for r in rows), split
            assert all(shows[r] in w.rows_of(code, False) for r in rows)  # a photograph of its own class
    classes = _classes(platform)
    for a in classes:
        for b in classes:
            assert a == b or not classes[a] & classes[b], (a, b)  # four disjoint splits of the characters


def test_a_photograph_is_the_camera_applied_to_its_rendering_with_the_rendering_seed(platform):
    w, d = platform.world, platform.world.data
    for r in (w.rows_of(code, False)[0] for code in list(platform.indices["test"])[:5]):
        seed = seed_hash(platform.config.render_seed, "photo", int(d["code"][r]), w.face_names[int(d["face"][r])],
                         int(d["copy"][r]))
        shot = camera.photograph(w.images[r:r + 1].float() / 255, [seed], platform.config.camera)
        expected = shot.mul(255).round().clamp(0, 255).to(torch.uint8)
        assert torch.equal(platform.images[platform.photo_row[r]:platform.photo_row[r] + 1], expected)
        assert not torch.equal(expected, w.images[r:r + 1])


def test_the_photographs_are_made_once_then_read_from_the_cache(small_world, platform, monkeypatch):
    calls = []
    monkeypatch.setattr(camera, "photograph", lambda *a, **k: calls.append(1))
    again = build(small_world, domains="platform")
    assert not calls and torch.equal(again.images, platform.images)
    assert list((small_world / "glyph-world-photos").glob("*.npz"))


def test_both_pool_regimes_hold_the_same_number_of_classes_and_images(platform, shared):
    train, test = set(platform.indices["train"]), set(platform.indices["test"])
    disjoint_pool, shared_pool = platform.indices["pool"], shared.indices["pool"]
    assert len(disjoint_pool) == len(shared_pool) == platform.pool_classes == shared.pool_classes > 0
    sizes = {len(rows) for rows in list(disjoint_pool.values()) + list(shared_pool.values())}
    assert sizes == {platform.config.renderings}
    assert set(shared_pool) <= train and not set(disjoint_pool) & (train | test | set(platform.indices["val"]))
    shows = _photo_of(shared)
    assert all(shows[r] in shared.indices["train"][code] for code, rows in shared_pool.items() for r in rows)
    for split in ("train", "val", "test"):  # the regimes differ in the pool alone
        assert shared.indices[split] == platform.indices[split]
        a, b = (bench.sample(split, 2, torch_generator(0, split)) for bench in (platform, shared))
        assert torch.equal(a.support_x, b.support_x) and torch.equal(a.query_x, b.query_x)
    drawn = shared.target_pool(50, torch_generator(0, "target"))
    pool_images = {shared.images[r].numpy().tobytes() for rows in shared_pool.values() for r in rows}
    assert {(x * 255).round().to(torch.uint8).numpy().tobytes() for x in drawn} <= pool_images


def test_source_test_episodes_are_the_renderings_the_target_episodes_photograph(small_world, platform):
    source = build(small_world, domains="platform", test_domain="source")
    for code, rows in platform.indices["test"].items():
        assert [platform.photo_row[r] for r in source.indices["test"][code]] == rows  # pairwise, in order
    for split in ("train", "val", "pool"):
        assert source.indices[split] == platform.indices[split]
    a, b = (bench.sample("test", 3, torch_generator(0, "test")) for bench in (platform, source))
    assert torch.equal(a.support_y, b.support_y) and not torch.equal(a.support_x, b.support_x)


def test_the_oracle_trains_on_photographs_of_every_training_class_and_tests_as_the_baseline(small_world, platform):
    oracle = build(small_world, domains="platform", train_domain="target")
    assert oracle.indices["train"].keys() == platform.indices["train"].keys()
    assert oracle.target_train_classes == len(platform.indices["train"])
    for code, rows in oracle.indices["train"].items():
        assert rows == [platform.photo_row[r] for r in platform.indices["train"][code]]
    for split in ("val", "test"):
        assert oracle.indices[split] == platform.indices[split]
        a, b = (bench.sample(split, 2, torch_generator(0, split)) for bench in (platform, oracle))
        assert torch.equal(a.query_x, b.query_x)


@pytest.mark.parametrize("settings, match", [
    (dict(domains="style", camera=0.25), r"glyph-world\.camera=0\.25 needs domains=platform"),
    (dict(domains="platform", camera=0.0), r"glyph-world\.camera"),
    (dict(domains="platform", camera=1.5), r"glyph-world\.camera"),
])
def test_a_camera_the_benchmark_cannot_use_is_a_config_error_naming_it(small_world, platform, settings, match):
    with pytest.raises(metareg.ConfigError, match=match):
        build(small_world, **settings)


def test_the_camera_at_its_default_leaves_every_run_identity_as_it_was(registry):
    from metareg.run.config import identity, resolve

    def own(settings):
        cfg, selection = resolve(registry, settings, {"learner": "protonet", "benchmark": "glyph-world"})
        return identity(cfg, selection)["config"]["benchmark"]["glyph-world"]

    assert "camera" not in own([])  # script and style runs stored before the setting keep their ids
    assert own([("benchmark.glyph-world.domains", "platform"), ("benchmark.glyph-world.camera", "0.25")])["camera"] \
        == 0.25



def test_target_episodes_are_n_way_pool_classes_in_equal_shares_of_pool_photographs(platform):
    n_way = platform.config.n_way
    rows = metareg.pool_episodes(platform.indices["pool"], 4, 20, n_way, torch.Generator().manual_seed(3))
    class_of = {r: code for code, rs in platform.indices["pool"].items() for r in rs}
    for episode in rows.tolist():
        shares = torch.bincount(torch.tensor([sorted(set(class_of.values())).index(class_of[r]) for r in episode]))
        assert sorted(shares[shares > 0].tolist()) == [20 // platform.config.n_way] * platform.config.n_way
    drawn = platform.target_episodes(4, 20, torch.Generator().manual_seed(3))
    assert torch.equal(drawn, platform.images[rows].float() / 255)  # the benchmark's draw is that one, as floats
