"""The glyphs benchmark contract: alphabets as domains, characters as classes, fonts as drawers."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

import metareg
from metareg import EpisodeSplits, split_items
from metareg_plugins.glyph_core.homoglyphs import duplicates
from metareg_plugins.glyph_core.names import parse_names
from metareg_plugins.glyph_core.rows import class_rows
from metareg_plugins.glyphs.alphabets import ALPHABETS
from metareg_plugins.glyphs.fonts import font_files
from metareg_plugins.glyphs.render import load_or_render


def _alphabet_list(value: str, key: str) -> list[str]:
    return parse_names(value, list(ALPHABETS), f"benchmark.glyphs.{key}", "alphabet", "latin,cyrillic")


def _domains(c) -> tuple[list[str], list[str]]:
    """The source and target alphabets a config names; no target (``none``, or the source again) is no shift."""
    source = _alphabet_list(c.source, "source")
    target = _alphabet_list(c.target, "target")
    if not source:
        raise metareg.ConfigError("benchmark.glyphs.source: name at least one alphabet, e.g. source=latin")
    if target == source:
        target = []
    if set(source) & set(target):
        raise metareg.ConfigError(
            f"benchmark.glyphs: alphabet(s) {', '.join(sorted(set(source) & set(target)))} are both source and "
            f"target; the target domain must be other alphabets (or target=none for no domain shift)"
        )
    return source, target


class Glyphs(metareg.Benchmark):
    """Characters rendered from installed fonts; alphabets are domains, characters classes, fonts the "drawers".

    Splits (all seeded by ``split_seed``, so every run is evaluated on the same classes):

    - ``train``: episodes of the source alphabets' meta-training classes;
    - ``val``: held-out classes of the source alphabets (``val_fraction`` of them), the Omniglot way;
    - ``test``: classes of the target alphabets, never seen in training;
    - ``target_pool``: unlabelled images of the *other* target classes (``pool_fraction`` of them). Pool and test
      classes are disjoint, so test episodes use classes and images no part of training (adversary included) saw.

    Without a target (``target=none`` or the same as the source) the source classes are split three ways
    (train / ``val_fraction`` / 20% test) and ``target_pool`` is None. Characters that look like an earlier one
    (homoglyphs such as Latin 'A' and Greek 'Α', see ``duplicates``) are dropped from the later alphabet when
    ``drop_duplicates`` is set.

    ``indices`` maps "train", "val", "test" and "pool" to {code point: rows of ``images``}, so the splits can be
    checked disjoint; ``fonts_by_class`` lists the fonts each class was rendered from.

    ``class_counts`` holds the classes per alphabet; docs/results.md lists them for matplotlib's fonts, with the
    command that counts them again.

    Config:
        source: source alphabets, comma-separated (latin, greek, cyrillic, armenian, georgian, hebrew, arrows, math).
        target: target alphabets (the domain shift), or "none".
        n_way, k_shot, n_query: episode shape (queries per class).
        image_size: side of the square grayscale images (28, as Omniglot for Conv4).
        min_fonts: a character is a class only if at least this many fonts draw it.
        instances_per_font: images per (character, font): the plain glyph and jittered copies.
        jitter_rotation, jitter_scale, jitter_shift: affine jitter (degrees, relative scale, fraction of the side).
        val_fraction: share of the source classes held out for validation.
        pool_fraction: share of the target classes whose images form the unlabelled target pool.
        drop_duplicates: drop characters that look the same as an earlier one (homoglyphs).
        render_seed: the jitter; split_seed: the class splits.
        extra_font_paths: more font files or folders (searched recursively for .ttf/.otf/.ttc).
        use_fontconfig: also use every font `fc-list` lists (results then depend on the machine's fonts).

    Example:
        metareg bench --learner protonet --benchmark glyphs benchmark.glyphs.source=latin benchmark.glyphs.target=greek
    """

    name = "glyphs"
    task_kind = "classification"
    default_backbone = "conv4"
    train_defaults = dict(metareg.IMAGE_TRAIN_DEFAULTS)

    @dataclass
    class Config:
        source: str = "latin"
        target: str = "greek"
        n_way: int = 5
        k_shot: int = 1
        n_query: int = 15
        image_size: int = 28
        min_fonts: int = 8
        instances_per_font: int = 4
        jitter_rotation: float = 10.0
        jitter_scale: float = 0.1
        jitter_shift: float = 0.05
        val_fraction: float = 0.2
        pool_fraction: float = 0.3
        drop_duplicates: bool = True
        render_seed: int = 0
        split_seed: int = 0
        extra_font_paths: list[str] = field(default_factory=list)
        use_fontconfig: bool = False

    ranges = {"n_way": metareg.Range.at_least(2), "k_shot": metareg.Range.at_least(1),
              "n_query": metareg.Range.at_least(1), "image_size": metareg.Range.at_least(8),
              "min_fonts": metareg.Range.at_least(1), "instances_per_font": metareg.Range.at_least(1),
              "jitter_rotation": metareg.Range.at_least(0),
              "jitter_scale": metareg.Range.at_least(0) & metareg.Range.below(1),
              "jitter_shift": metareg.Range.at_least(0) & metareg.Range.below(0.5),
              **dict.fromkeys(("val_fraction", "pool_fraction"), metareg.Range.above(0) & metareg.Range.below(1)),
              **dict.fromkeys(("render_seed", "split_seed"), metareg.Range.seed())}

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.source, self.target = source, target = _domains(c)
        alphabets = {a: ALPHABETS[a] for a in source + target}
        fonts = font_files(c)
        data, self.cache_file, self.from_cache = load_or_render(fonts, alphabets, c)
        self.images = torch.from_numpy(data["images"]).float().div_(255).unsqueeze(1)  # [N, 1, S, S]
        self.codes = data["code"]
        self.font_names = [str(f) for f in data["fonts"]]
        rows = class_rows(self.codes)
        self.fonts_by_class = {code: sorted({self.font_names[f] for f in data["font"][r.start:r.stop]})
                               for code, r in rows.items()}

        def classes_of(names):
            return [code for a in names for code in ALPHABETS[a] if code in rows]

        order = classes_of(source) + classes_of(target)
        self.duplicates = duplicates(data, order) if c.drop_duplicates and order else {}
        src = [x for x in classes_of(source) if x not in self.duplicates]
        tgt = [x for x in classes_of(target) if x not in self.duplicates]
        #: classes per alphabet after coverage and duplicate filtering
        self.class_counts = {a: sum(1 for x in classes_of([a]) if x not in self.duplicates) for a in source + target}
        parts: dict[str, list[int]]
        if target:
            self._need(src, 2, f"source alphabet(s) {c.source}")
            self._need(tgt, 2, f"target alphabet(s) {c.target}")
            parts = metareg.split_domains(src, tgt, c.val_fraction, c.pool_fraction, c.split_seed)
        else:
            self._need(src, 3, f"alphabet(s) {c.source}")
            test_fraction = 0.2
            train, val, test = split_items(src, [1 - c.val_fraction - test_fraction, c.val_fraction, test_fraction],
                                           c.split_seed)
            parts = {"train": train, "val": val, "test": test, "pool": []}
        self.indices: dict[str, dict[int, list[int]]] = {
            split: {code: list(rows[code]) for code in sorted(cls)} for split, cls in parts.items()
        }
        self.pool_rows = torch.tensor(sum(self.indices["pool"].values(), []), dtype=torch.long)
        self.episodes = EpisodeSplits(
            {split: {code: self.images[rows[code].start:rows[code].stop] for code in self.indices[split]}  # views
             for split in ("train", "val", "test")}, (1, c.image_size, c.image_size), c.n_way, c.k_shot, c.n_query,
            key="benchmark.glyphs", fewer_classes=f"lower n_way or min_fonts, or use more alphabets ({self._counts()})",
            smaller_classes="raise instances_per_font or min_fonts, or lower n_query", samples_key="instances_per_font")
        self.pools, self.spec = self.episodes.pools, self.episodes.spec

    def _counts(self) -> str:
        return "classes per alphabet: " + ", ".join(f"{a} {n}" for a, n in self.class_counts.items())

    def _need(self, classes: list[int], n: int, what: str) -> None:
        if len(classes) < n:
            raise metareg.ConfigError(
                f"benchmark.glyphs: {what} give {len(classes)} classes drawn by >= {self.config.min_fonts} fonts; "
                f"lower min_fonts or add fonts (extra_font_paths, use_fontconfig) ({self._counts()})"
            )

    def sample(self, split, n_tasks, generator):
        return self.episodes.sample(split, n_tasks, generator)

    def target_pool(self, n, generator):
        """``n`` unlabelled images (with replacement) of the pool classes of the target alphabets; never test ones."""
        if not self.target:
            return None
        pick = torch.randint(len(self.pool_rows), (n,), generator=generator)
        return self.images[self.pool_rows[pick]]
