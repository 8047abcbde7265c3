"""glyph-world: an Omniglot-scale world of characters; disjoint splits, two kinds of domain, two pool regimes, a cache.

Most tests share one small world (``helpers.glyph_worlds``: Latin and Greek at 16 px, matplotlib's fonts and a few
fontpkg families, six renderings per class and kind) in a private cache; one test builds the full world the
``fonts`` extra gives. The platform domain's tests are in test_glyph_world_platform.py.
"""
from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib", reason="glyph-world reads fonts with matplotlib's FreeType wrapper")
pytest.importorskip("PIL", reason="glyph-world renders with Pillow")

import metareg  # noqa: E402
from metareg.toolkit.tasks import torch_generator  # noqa: E402
from metareg_plugins.glyph_world import GlyphWorld, fonts, scripts, world  # noqa: E402
from metareg_plugins.glyph_core.homoglyphs import duplicates  # noqa: E402
from helpers.glyph_worlds import ALL_FONTPKG, SMALL  # noqa: E402
from helpers.glyph_worlds import build as _build, use_small_world as _small_world_fonts  # noqa: E402


@pytest.fixture(scope="module")
def script_bench(small_world):
    return _build(small_world)


@pytest.fixture(scope="module")
def style_bench(small_world, script_bench):
    if not script_bench.world.data["face_handwriting"].any():
        pytest.skip(f"no handwriting fonts installed ({fonts.EXTRA})")
    return _build(small_world, domains="style")


@pytest.fixture(scope="module")
def shared_bench(small_world, style_bench):
    return _build(small_world, domains="style", pool="shared")


def _classes(bench) -> dict[str, set[int]]:
    return {split: set(by_class) for split, by_class in bench.indices.items()}


def _rows(bench) -> dict[str, set[int]]:
    return {split: {r for rs in by_class.values() for r in rs} for split, by_class in bench.indices.items()}


BENCHES = pytest.mark.parametrize("bench_name", ["script_bench", "style_bench", "shared_bench"])


@BENCHES
def test_every_class_is_a_base_character_drawn_by_min_fonts_faces_with_enough_renderings(request, bench_name):
    bench = request.getfixturevalue(bench_name)
    w, c = bench.world, bench.config
    for split, by_class in bench.indices.items():
        for code, rows in by_class.items():
            assert scripts.is_base_character(code), hex(code)
            assert w.face_count(code, None) >= c.min_fonts
            if split == "pool":  # style: a seeded choice of at most `renderings` of its rows
                assert c.domains == "script" or len(rows) <= c.renderings  # script: every row
                continue
            assert len(rows) >= c.renderings, (split, chr(code), len(rows))
            # every face that draws the class gives its plain glyph (copy 0)
            faces = w.data["face"][rows]
            plain = w.data["face"][rows][w.data["copy"][rows] == 0]
            assert sorted(set(faces.tolist())) == sorted(plain.tolist())
    assert not scripts.is_base_character(ord("é")) and not scripts.is_base_character(0x0301)  # accent, mark
    assert "é" not in map(chr, w.rows) and ord("A") in w.rows
    images = w.images
    assert images.dtype == torch.uint8 and images.shape[1:] == (1, 16, 16) and int(images.max()) == 255


def test_specks_placeholders_and_homoglyphs_are_not_classes(script_bench):
    data = script_bench.world.data
    dropped = dict(zip(data["dropped_code"].tolist(), data["dropped_as"].tolist()))
    assert dropped[ord(".")] == -1  # a speck: told apart from other dots by size alone
    assert dropped[0x391] == ord("A") and dropped[0x3BF] == ord("o")  # Greek Alpha and omicron
    everywhere = set().union(*_classes(script_bench).values())
    assert not everywhere & set(dropped) and ord("λ") in everywhere
    assert not any("LastResort" in f for f in script_bench.world.face_names)


@BENCHES
def test_splits_share_no_class_and_no_image(request, bench_name):
    bench = request.getfixturevalue(bench_name)
    classes, rows = _classes(bench), _rows(bench)
    for a, b in combinations(("train", "val", "test"), 2):
        assert not classes[a] & classes[b] and not rows[a] & rows[b], (bench.config.domains, a, b)
    assert not rows["pool"] & (rows["train"] | rows["val"] | rows["test"])


@pytest.mark.parametrize("bench_name", ["script_bench", "style_bench"])  # shared: the same splits as style
def test_homoglyphs_never_sit_on_two_splits(request, bench_name):
    bench = request.getfixturevalue(bench_name)
    data = bench.world.data
    plain = np.flatnonzero(data["copy"] == 0)
    look = {"images": data["images"][plain], "code": data["code"][plain], "font": data["face"][plain],
            "instance": np.zeros(len(plain), np.int32)}
    split_of = {code: split for split, by_class in bench.indices.items() for code in by_class}
    order = sorted(split_of)
    for code, like in duplicates(look, order, tolerance=0.02).items():
        assert split_of[code] == split_of[like], (chr(code), chr(like), split_of[code], split_of[like])


def test_script_domains_train_on_source_scripts_and_test_on_target_scripts(script_bench):
    classes = _classes(script_bench)
    latin, greek = set(scripts.script_codes("latin")), set(scripts.script_codes("greek"))
    assert classes["train"] | classes["val"] <= latin and classes["test"] | classes["pool"] <= greek
    assert not classes["pool"] & classes["test"]
    assert len(classes["val"]) == round(0.2 * (len(classes["train"]) + len(classes["val"])))
    batch = script_bench.sample("test", 3, torch_generator(0, "test"))
    assert batch.support_x.shape == (3, 5, 1, 16, 16) and batch.query_x.shape == (3, 15, 1, 16, 16)
    assert batch.support_x.dtype == torch.float32 and 0 <= batch.support_x.min() and batch.support_x.max() == 1


def test_style_domains_train_on_print_faces_and_test_new_characters_in_handwriting(style_bench):
    w = style_bench.world
    for split in ("train", "val"):
        for rows in style_bench.indices[split].values():
            assert not w.handwritten_row[rows].any(), split
    for rows in list(style_bench.indices["test"].values()) + list(style_bench.indices["pool"].values()):
        assert w.handwritten_row[rows].all()
    for code in style_bench.indices["test"]:
        assert w.face_count(code, True) >= style_bench.config.min_fonts
    classes = _classes(style_bench)
    assert not classes["test"] & (classes["train"] | classes["val"] | classes["pool"])


def test_shared_pool_holds_handwritten_renderings_of_training_classes(style_bench, shared_bench):
    w, classes, rows = shared_bench.world, _classes(shared_bench), _rows(shared_bench)
    assert classes["pool"] and classes["pool"] <= classes["train"]
    assert w.handwritten_row[sorted(rows["pool"])].all() and not w.handwritten_row[sorted(rows["train"])].any()
    # the two regimes train, validate and test on the very same classes and episodes
    for split in ("train", "val", "test"):
        assert shared_bench.indices[split] == style_bench.indices[split]
        a, b = (bench.sample(split, 2, torch_generator(0, split)) for bench in (style_bench, shared_bench))
        assert torch.equal(a.support_x, b.support_x) and torch.equal(a.query_x, b.query_x)
    disjoint = _classes(style_bench)
    assert not disjoint["pool"] & (disjoint["train"] | disjoint["val"] | disjoint["test"])
    # the two pools hold the same number of classes and images (a style run's id records this revision)
    assert shared_bench.pool_classes == style_bench.pool_classes == len(shared_bench.indices["pool"]) \
        == len(style_bench.indices["pool"])
    assert len(shared_bench.pool_rows) == len(style_bench.pool_rows)
    assert "style-pools=equal" in type(shared_bench).data_identity(shared_bench.config)


@BENCHES
def test_test_classes_and_samples_never_reach_training_or_the_pool(request, bench_name):
    bench = request.getfixturevalue(bench_name)
    key = lambda t: t.numpy().tobytes()  # noqa: E731
    classes, rows = _classes(bench), _rows(bench)
    assert not classes["test"] & (classes["train"] | classes["val"] | classes["pool"])
    assert not rows["test"] & (rows["train"] | rows["val"] | rows["pool"])
    assert set(bench.pool_rows.tolist()) == rows["pool"]
    pool = bench.target_pool(400, torch_generator(0, "target"))
    assert pool.shape == (400, 1, 16, 16) and pool.dtype == torch.float32
    test_images = {key(bench.world.images[r].float().div(255)) for r in rows["test"]}
    pool_images = {key(bench.world.images[r].float().div(255)) for r in rows["pool"]}
    drawn = {key(im) for im in pool}
    assert drawn <= pool_images and not drawn & test_images, (bench.config.domains, bench.config.pool)


def test_the_world_is_written_once_then_read(tmp_path, monkeypatch):
    monkeypatch.setenv("METAREG_CACHE", str(tmp_path))
    config = GlyphWorld.Config(source_scripts="greek", target_scripts="armenian", image_size=12, renderings=4,
                               n_query=2, fontpkg=False)
    first = GlyphWorld(config)
    assert list((tmp_path / "glyph-world").iterdir()) == [first.cache_file] and not first.from_cache

    def boom(*args, **kwargs):
        raise AssertionError("built again although the cache file exists")

    monkeypatch.setattr(world, "build", boom)
    second = GlyphWorld(config)
    assert second.from_cache and second.cache_file == first.cache_file
    assert torch.equal(first.world.images, second.world.images) and second.indices == first.indices
    with pytest.raises(AssertionError, match="built again"):  # another recipe is another file
        GlyphWorld(GlyphWorld.Config(**{**vars(config), "render_seed": 1}))


def test_without_fontpkg_fonts_one_note_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setenv("METAREG_CACHE", str(tmp_path))
    monkeypatch.setattr(fonts, "fontpkg_fonts", lambda: [])
    config = GlyphWorld.Config(source_scripts="greek", target_scripts="armenian", image_size=12, renderings=4,
                               n_query=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        benches = [GlyphWorld(config), GlyphWorld(config)]  # built, then read from the cache
    notes = [w for w in caught if issubclass(w.category, fonts.FontsMissingWarning)]
    assert len(notes) == 1 and "pip install 'metareg[fonts]'" in str(notes[0].message)
    assert set(benches[0].world.data["face_origin"]) == {"matplotlib"} and benches[1].from_cache
    with warnings.catch_warnings():
        warnings.simplefilter("error", fonts.FontsMissingWarning)
        GlyphWorld(GlyphWorld.Config(**{**vars(config), "fontpkg": False}))  # asked for: no note


@pytest.mark.parametrize("settings, match", [
    (dict(pool="shared"), r"glyph-world\.pool=shared needs domains=style"),
    (dict(domains="handwriting"), r"glyph-world\.domains must be one of script, style"),
    (dict(pool="mixed"), r"glyph-world\.pool must be one of disjoint, shared"),
    (dict(source_scripts="klingon"), r"glyph-world\.source_scripts: unknown script 'klingon'.*latin, greek"),
    (dict(source_scripts="latin,greek"), r"glyph-world\.target_scripts: greek also in source_scripts"),
    (dict(test_fraction=0.8), r"glyph-world\.test_fraction"),
    (dict(jitter_stroke=2.0), r"glyph-world\.jitter_stroke"),
    (dict(n_way=500), r"glyph-world\.n_way: the \w+ split has \d+ classes, fewer than n_way=500"),
    (dict(min_fonts=500), r"glyph-world\.source_scripts: .* fewer than 2; .*lower min_fonts"),
])
def test_a_bad_config_is_a_config_error_naming_the_key(small_world, script_bench, settings, match):
    with pytest.raises(metareg.ConfigError, match=match):
        _build(small_world, **settings)


def _fonts_extra_missing() -> list[str]:
    """The distributions of metareg's ``fonts`` extra that are not installed."""
    import importlib.metadata as md
    import re

    requires = md.distribution("metareg").requires or ()
    wanted = [re.split(r"[=<>;\s]", r)[0] for r in requires if 'extra == "fonts"' in r]
    installed = {(d.metadata["Name"] or "").lower() for d in md.distributions()}
    return [name for name in wanted if name.lower() not in installed] if wanted else ["fonts extra"]


def test_the_fonts_extra_gives_1000_classes_of_20_renderings(tmp_path, monkeypatch):
    missing = _fonts_extra_missing() if ALL_FONTPKG else ["every fontpkg-* distribution"]
    if missing:
        pytest.skip(f"the fonts extra is not fully installed (missing {', '.join(missing[:3])}): {fonts.EXTRA}")
    monkeypatch.setenv("METAREG_CACHE", str(tmp_path))
    # the scripts that share no letter with Latin, Greek or Cyrillic (whose 143 faces take the most drawing): the
    # full world has these classes too, less the dozen that look like a Latin letter ('Օ', 'ا'), so their count
    # bounds the full world's from below; 16 px only to render faster (the classes are judged at 14 px anyway)
    bench = GlyphWorld(GlyphWorld.Config(image_size=16, source_scripts="arabic,devanagari,thai,arrows,math,shapes",
                                         target_scripts="armenian,georgian,hebrew,tamil,telugu,currency"))
    renderings = [len(bench.world.rows_of(c, None)) for by_class in bench.indices.values() for c in by_class]
    assert len(renderings) >= 1000 + 20 and min(renderings) >= 20
    assert sum(bench.world.face_count(c, None) >= 3 for c in bench.world.rows) >= 0.75 * len(bench.world.rows)


def test_a_style_run_with_a_shared_pool_completes_through_the_cli(run_cli, small_world, style_bench, monkeypatch):
    from helpers.runs import TINY, json_lines

    _small_world_fonts(monkeypatch, small_world)  # the cached small world: the run only reads it

    settings = [f"benchmark.glyph-world.{k}={v}" for k, v in {**SMALL, "domains": "style", "pool": "shared"}.items()]
    code, out, err = run_cli("bench", "--learner", "protonet", "--adversary", "dann", "--benchmark", "glyph-world",
                             "--json", "--quiet", *TINY, *settings, "backbone.conv4.channels=4",
                             "train.meta_batch_size=2")
    assert code == 0, err
    (result,) = json_lines(out)
    assert result["status"] == "done" and result["parts"]["benchmark"] == "glyph-world"
    assert result["parts"]["adversary"] == "dann"


def test_fontpkg_faces_are_one_upright_and_one_italic_file_per_distribution():
    if not ALL_FONTPKG:
        pytest.skip(f"the fonts extra is not installed ({fonts.EXTRA})")
    per_dist: dict[str, list[str]] = {}
    for f in ALL_FONTPKG:
        per_dist.setdefault(f.origin, []).append(f.path.name)
    assert all(1 <= len(files) <= 2 for files in per_dist.values())
    fira = per_dist.get("fontpkg-fira-sans")
    if fira:  # a static family of 18 weights gives its Regular and Italic
        assert sorted(fira) == ["FiraSans-Italic.ttf", "FiraSans-Regular.ttf"]
    assert fonts.is_handwriting("dancing  script", fonts.HANDWRITING) and not fonts.is_handwriting("Roboto", ())


def test_the_installed_fonts_join_the_run_identity(registry, monkeypatch):
    """A run with and without the fonts extra draws another world, so it must not share a run id."""
    from metareg.run.config import config_hash, resolve
    from metareg_plugins.glyph_world import fonts

    cfg, selection = resolve(registry, [], {"learner": "protonet", "benchmark": "glyph-world"})
    with_fonts = config_hash(cfg, selection)
    monkeypatch.setattr(fonts, "installed_fonts_identity", lambda use: "matplotlib==0.0")
    assert config_hash(cfg, selection) != with_fonts
    from metareg.run.config import part_config

    digits_cfg, digits = resolve(registry, [], {"learner": "protonet", "benchmark": "digits"})
    assert digits.benchmark.cls.data_identity(part_config(digits_cfg, "benchmark")) == ""  # ids unchanged there


def test_a_grid_cell_on_another_device_keeps_its_identity(registry):
    """The device is read as ``auto`` in the identity; the fonts' identity must still be part of it."""
    from metareg.run.config import config_hash as identity, resolve

    auto, selection = resolve(registry, [], {"learner": "protonet", "benchmark": "glyph-world"})
    cpu, _ = resolve(registry, [], {"learner": "protonet", "benchmark": "glyph-world", "device": "cpu"})
    assert identity(cpu, selection) == identity(auto, selection)


@pytest.fixture(scope="module")
def source_test_bench(small_world, style_bench):
    return _build(small_world, domains="style", test_domain="source")


@pytest.fixture(scope="module")
def oracle_bench(small_world, style_bench):
    return _build(small_world, domains="style", train_domain="target")


def _episode_classes(bench, batch) -> list[list[int]]:
    """The class (code point) of every support image of every episode, found by the image's pixels."""
    owner = {}
    for code, rows in bench.indices["test"].items():
        for r in rows:
            owner[bench.world.images[r].numpy().tobytes()] = code
    as_bytes = (batch.support_x * 255).round().to(torch.uint8)
    return [[owner[x.numpy().tobytes()] for x in task] for task in as_bytes]


def test_source_test_episodes_draw_the_same_classes_in_print(style_bench, source_test_bench):
    w = style_bench.world
    assert source_test_bench.indices["test"].keys() == style_bench.indices["test"].keys()
    for code, rows in source_test_bench.indices["test"].items():
        assert len(rows) == len(style_bench.indices["test"][code])  # as many, so the draws line up
        assert all(not w.handwritten_row[r] for r in rows) and all(w.handwritten_row[r] for r in
                                                                   style_bench.indices["test"][code])
    for split in ("train", "val", "pool"):
        assert source_test_bench.indices[split] == style_bench.indices[split]
    target, source = (bench.sample("test", 4, torch_generator(0, "test")) for bench in (style_bench,
                                                                                          source_test_bench))
    assert _episode_classes(style_bench, target) == _episode_classes(source_test_bench, source)
    assert not torch.equal(target.support_x, source.support_x)


def test_the_oracle_trains_on_handwriting_of_training_classes_and_tests_as_the_baseline(style_bench, oracle_bench):
    w = style_bench.world
    assert set(oracle_bench.indices["train"]) <= set(style_bench.indices["train"])
    assert len(oracle_bench.indices["train"]) == oracle_bench.target_train_classes >= oracle_bench.config.n_way
    assert all(w.handwritten_row[r] for rows in oracle_bench.indices["train"].values() for r in rows)
    for split in ("val", "test"):
        assert oracle_bench.indices[split] == style_bench.indices[split]
        a, b = (bench.sample(split, 2, torch_generator(0, split)) for bench in (style_bench, oracle_bench))
        assert torch.equal(a.query_x, b.query_x)


def test_target_validation_draws_handwriting_of_the_validation_characters_only(small_world, style_bench):
    validated = _build(small_world, domains="style", val_domain="target")
    w = style_bench.world
    assert set(validated.indices["val"]) <= set(style_bench.indices["val"])
    assert len(validated.indices["val"]) >= validated.config.n_way
    assert all(w.handwritten_row[r] for rows in validated.indices["val"].values() for r in rows)
    assert all(not w.handwritten_row[r] for rows in style_bench.indices["val"].values() for r in rows)
    for split in ("train", "test", "pool"):
        assert validated.indices[split] == style_bench.indices[split]


def test_both_domains_train_every_class_on_its_print_and_handwritten_renderings(small_world, style_bench,
                                                                                 oracle_bench):
    both = _build(small_world, domains="style", train_domain="both")
    assert both.indices["train"].keys() == style_bench.indices["train"].keys()
    for code, rows in both.indices["train"].items():
        assert rows == style_bench.indices["train"][code] + oracle_bench.indices["train"].get(code, [])


@pytest.mark.parametrize("settings, match", [
    (dict(test_domain="source"), r"glyph-world\.test_domain=source needs domains=style"),
    (dict(train_domain="both"), r"glyph-world\.train_domain=both needs domains=style"),
    (dict(train_domain="oracle"), r"glyph-world\.train_domain must be one of source, target, both"),
])
def test_domain_settings_the_script_domains_cannot_serve_are_config_errors(small_world, script_bench, settings,
                                                                          match):
    with pytest.raises(metareg.ConfigError, match=match):
        _build(small_world, **settings)
