"""glyphs: characters from installed fonts; covered classes only, no placeholder fonts, disjoint splits, a cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib", reason="glyphs renders the fonts matplotlib ships")
pytest.importorskip("PIL", reason="glyphs renders with Pillow")

import metareg  # noqa: E402
from metareg.toolkit.tasks import torch_generator  # noqa: E402
from metareg_plugins.glyph_core import fonts as core_fonts  # noqa: E402
from metareg_plugins.glyph_core.draw import draw  # noqa: E402
from metareg_plugins.glyphs import fonts as glyph_fonts  # noqa: E402
from metareg_plugins.glyphs import render as glyph_render  # noqa: E402
from metareg_plugins.glyphs import ALPHABETS, Glyphs  # noqa: E402

#: small and fast: 16 px, two alphabets, two images per (character, font)
SMALL = dict(source="latin", target="greek", image_size=16, instances_per_font=2, n_query=5)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("metareg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METAREG_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def bench(cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METAREG_CACHE", str(cache))
        return Glyphs(Glyphs.Config(**SMALL))


def _charmap(name: str) -> dict:
    from matplotlib.ft2font import FT2Font

    return FT2Font(str(core_fonts.matplotlib_font_dir() / name)).get_charmap()


def test_classes_are_characters_drawn_by_at_least_min_fonts_fonts(bench):
    config = bench.config
    classes = {code for split in bench.indices.values() for code in split}
    assert classes and classes <= set(ALPHABETS["latin"]) | set(ALPHABETS["greek"])
    charmaps: dict[str, dict] = {}
    for code in classes:
        fonts = bench.fonts_by_class[code]
        assert len(fonts) >= config.min_fonts, (chr(code), fonts)
        for name in fonts:
            assert code in charmaps.setdefault(name, _charmap(name)), (chr(code), name)
        rows = [r for split in bench.indices.values() for r in split.get(code, [])]
        assert len(rows) == len(fonts) * config.instances_per_font
    # the TeX fonts map ASCII code points to other glyphs: cmex10's 'A' is a parenthesis, cmsy10's 'a' a turnstile
    everywhere = {f for fonts in bench.fonts_by_class.values() for f in fonts}
    assert "cmex10.ttf" not in everywhere
    assert "cmsy10.ttf" in bench.fonts_by_class[ord("A")] and "cmsy10.ttf" not in bench.fonts_by_class[ord("a")]
    assert "DejaVuSans.ttf" in bench.fonts_by_class[ord("λ")]


def test_placeholder_fonts_are_skipped_by_name_and_by_rendering(bench):
    font_dir = core_fonts.matplotlib_font_dir()
    last_resort = sorted(font_dir.glob("LastResort*"))
    listed = glyph_fonts.font_files(Glyphs.Config())
    assert not any("LastResort" in f.path.name for f in listed) and len(listed) > 20
    assert not any("LastResort" in f for f in bench.font_names)
    # the detector on synthetic renders: one box for every character vs distinct shapes
    box = np.zeros((16, 16), np.uint8)
    box[2:14, 2:14] = 255
    box[4:12, 4:12] = 0
    assert core_fonts.is_placeholder(np.stack([box] * 8))
    distinct = np.stack([np.roll(box, i, axis=1) for i in range(8)])
    assert not core_fonts.is_placeholder(distinct)
    assert not core_fonts.is_placeholder(np.stack([box] * 3))  # too few characters to judge
    # and on real renders: LastResort (shipped by matplotlib) draws one box per Unicode block, DejaVu real letters
    latin = list(ALPHABETS["latin"])
    if last_resort:
        images, kept = draw(last_resort[0], latin, 32)
        assert len(kept) == len(latin) and core_fonts.is_placeholder(images)
    images, kept = draw(font_dir / "DejaVuSans.ttf", latin, 32)
    assert len(kept) == len(latin) and not core_fonts.is_placeholder(images)


def test_splits_share_no_class_and_no_image_and_follow_the_domains(bench):
    idx = bench.indices
    classes = {split: set(by_class) for split, by_class in idx.items()}
    rows = {split: {r for rs in by_class.values() for r in rs} for split, by_class in idx.items()}
    for a in idx:
        for b in idx:
            if a < b:
                assert not classes[a] & classes[b], (a, b)
                assert not rows[a] & rows[b], (a, b)
    latin, greek = set(ALPHABETS["latin"]), set(ALPHABETS["greek"])
    assert classes["train"] | classes["val"] <= latin and classes["test"] | classes["pool"] <= greek
    assert len(classes["val"]) == round(0.2 * (len(classes["train"]) + len(classes["val"])))
    # homoglyphs of the source are not target classes: Greek capital Alpha is Latin 'A'
    assert bench.duplicates[0x391] == ord("A") and 0x391 not in classes["test"] | classes["pool"]
    assert ord("λ") in classes["test"] | classes["pool"]
    assert bench.class_counts["latin"] == 52 and bench.class_counts["greek"] >= 30


def test_episodes_have_the_promised_shape_range_and_domain(bench):
    batch = bench.sample("test", 3, torch_generator(0, "test"))
    assert batch.support_x.shape == (3, 5, 1, 16, 16) and batch.query_x.shape == (3, 25, 1, 16, 16)
    assert torch.equal(batch.query_y[0], torch.arange(5).repeat_interleave(5))
    assert 0.0 <= batch.support_x.min() and batch.support_x.max() <= 1.0 and batch.support_x.max() > 0.5
    again = bench.sample("test", 3, torch_generator(0, "test"))
    assert torch.equal(batch.support_x, again.support_x)
    test_images = torch.cat([bench.images[r] for r in bench.indices["test"].values()])
    keys = {im.numpy().tobytes() for im in test_images}
    assert all(im.numpy().tobytes() in keys for im in batch.query_x.flatten(0, 1))


def test_target_pool_gives_unlabelled_pool_images_and_never_test_images(bench):
    pool = bench.target_pool(300, torch_generator(0, "target"))
    assert isinstance(pool, torch.Tensor) and pool.shape == (300, 1, 16, 16)  # inputs only, no labels
    assert 0.0 <= pool.min() and pool.max() <= 1.0
    key = lambda t: t.numpy().tobytes()  # noqa: E731
    pool_keys = {key(bench.images[r]) for rs in bench.indices["pool"].values() for r in rs}
    test_keys = {key(bench.images[r]) for rs in bench.indices["test"].values() for r in rs}
    drawn = {key(im) for im in pool}
    assert drawn <= pool_keys and not drawn & test_keys
    assert set(bench.pool_rows.tolist()) == {r for rs in bench.indices["pool"].values() for r in rs}


def test_the_cache_is_written_once_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("METAREG_CACHE", str(tmp_path))
    config = Glyphs.Config(source="latin", target="none", image_size=12, instances_per_font=1, n_query=3,
                           min_fonts=10)
    first = Glyphs(config)
    files = list((tmp_path / "glyphs").glob("*.npz"))
    assert files == [first.cache_file] and not first.from_cache

    def boom(*args, **kwargs):
        raise AssertionError("rendered again although the cache file exists")

    monkeypatch.setattr(glyph_render, "render_glyphs", boom)
    second = Glyphs(config)
    assert second.from_cache and torch.equal(first.images, second.images)
    assert second.indices == first.indices
    # no target domain: three disjoint splits of the source classes and no pool
    assert second.target_pool(4, torch_generator(0)) is None
    assert not set(second.indices["train"]) & set(second.indices["test"]) and not second.indices["pool"]


def test_bad_configs_are_config_errors_that_name_the_fix(cache):
    with pytest.raises(metareg.ConfigError, match="unknown alphabet 'klingon'.*latin, greek"):
        Glyphs(Glyphs.Config(source="klingon"))
    with pytest.raises(metareg.ConfigError, match="both source and target"):
        Glyphs(Glyphs.Config(source="latin,greek", target="greek"))
    with pytest.raises(metareg.ConfigError, match="does not exist"):
        Glyphs(Glyphs.Config(extra_font_paths=["/nonexistent/fonts"]))
    with pytest.raises(metareg.ConfigError, match="min_fonts"):
        Glyphs(Glyphs.Config(**{**SMALL, "min_fonts": 100}))


def test_glyphs_is_registered_and_runs_in_the_cli(run_cli, cache, monkeypatch):
    from helpers.runs import TINY, json_lines

    monkeypatch.setenv("METAREG_CACHE", str(cache))
    code, out, err = run_cli("bench", "--learner", "protonet", "--benchmark", "glyphs", "--json", "--quiet", *TINY,
                             "benchmark.glyphs.image_size=16", "benchmark.glyphs.instances_per_font=2",
                             "benchmark.glyphs.n_query=5", "backbone.conv4.channels=4", "train.meta_batch_size=2")
    assert code == 0, err
    (result,) = json_lines(out)
    assert result["status"] == "done" and result["parts"]["benchmark"] == "glyphs"
