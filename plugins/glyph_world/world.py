"""Building the glyph world once and caching it: which characters are classes, and every class's renderings.

A world is the characters of the chosen scripts that the installed faces draw, minus specks (``render.SPECK``) and
homoglyphs: a character that looks like one earlier in ``scripts.WORLD_ORDER`` (Greek 'Α' after Latin 'A',
Cyrillic 'О' after Latin 'O'), judged by ``glyph_core.homoglyphs.duplicates`` on the plain glyphs of the faces that
draw both. A homoglyph is dropped from the whole world, not from one split, so no split can hold a character that
looks like one of another split's.

The arrays are cached as ``.npz`` under ``$METAREG_CACHE/glyph-world`` (beside the ``glyphs`` benchmark's cache),
named by the sha256 of the recipe (font files and sizes, code points, settings, seeds, Pillow/FreeType and code
version) and written whole or not at all (``glyph_core.cache``), so concurrent runs never read half a file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from metareg_plugins.glyph_core.cache import cached, drawing_recipe
from metareg_plugins.glyph_core.fonts import FontFile
from metareg_plugins.glyph_core.homoglyphs import duplicates
from metareg_plugins.glyph_core.rows import class_rows
from metareg_plugins.glyph_world import render

#: bump when the world's construction changes, so old cache files are not reused
WORLD_VERSION = 1
#: homoglyphs are judged on 14 x 14 plain glyphs, whatever the image size (so nearly the same classes at every
#: size), because the pairwise L1 distances over ~56,000 glyphs of 143 faces cost 4x less there than at 28 x 28.
#: Coarser is stricter: letters told apart by one dot (Arabic 'ح' and 'ج') count as one shape, the later dropped.
HOMOGLYPH_SIZE = 14


class World:
    """The cached arrays of one world, indexed: the rows of each class and the faces of each kind that draw it."""

    def __init__(self, data: dict[str, np.ndarray]):
        self.data = data
        self.images = torch.from_numpy(data["images"]).unsqueeze(1)  # [N, 1, S, S] uint8; floats per episode
        codes, face = data["code"], data["face"]
        self.handwritten_row = data["face_handwriting"][face] if len(codes) else np.zeros(0, bool)
        #: code point -> its rows (contiguous: rows are sorted by code)
        self.rows = class_rows(codes)
        self.face_names = [str(f) for f in data["face_file"]]
        #: code point -> (print faces, handwriting faces) that draw it, as indices into ``face_names``
        self.faces: dict[int, tuple[set[int], set[int]]] = {code: (set(), set()) for code in self.rows}
        for code, f, hw in zip(codes.tolist(), face.tolist(), self.handwritten_row.tolist()):
            self.faces[code][hw].add(f)

    def rows_of(self, code: int, handwriting: bool | None) -> list[int]:
        """Rows of class ``code`` drawn by handwriting faces (True), print faces (False) or any (None)."""
        r = self.rows[code]
        if handwriting is None:
            return list(r)
        return [i for i in r if bool(self.handwritten_row[i]) is handwriting]

    def face_count(self, code: int, handwriting: bool | None) -> int:
        """How many faces (of one kind, or any) draw ``code``; 0 for a code that is not in the world."""
        if code not in self.faces:
            return 0
        printed, handwritten = self.faces[code]
        return len(printed | handwritten) if handwriting is None else len(handwritten if handwriting else printed)

    def fonts_of(self, code: int) -> list[str]:
        """The file names of the faces that draw ``code``."""
        printed, handwritten = self.faces[code]
        return sorted(self.face_names[f] for f in printed | handwritten)


def _homoglyphs(faces: list[render.Face], order: list[int]) -> dict[int, int]:
    """``glyph_core.homoglyphs.duplicates`` over the plain glyphs at ``HOMOGLYPH_SIZE`` (code -> the earlier code
    it looks like)."""
    wanted = set(order)
    rows = [(code, i) for i, face in enumerate(faces) for code in face.glyphs if code in wanted]
    if not rows:
        return {}
    canvas = np.stack([faces[i].glyphs[c] for c, i in rows])
    small = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(canvas).unsqueeze(1).float(), HOMOGLYPH_SIZE)
    data = {"images": small.squeeze(1).round().to(torch.uint8).numpy(), "code": np.array([c for c, _ in rows]),
            "font": np.array([i for _, i in rows]), "instance": np.zeros(len(rows), np.int32)}
    return duplicates(data, order)


def build(fonts: list[FontFile], scripts: dict[str, tuple[int, ...]], config) -> dict[str, np.ndarray]:
    """Render the world of ``scripts`` (in world order) with ``fonts``; the arrays ``load_or_build`` caches.

    ``images`` [N, S, S] uint8 with ``code``, ``face`` and ``copy`` [N], sorted by code, face and copy; per face
    ``face_file``, ``face_origin``, ``face_family``, ``face_style``, ``face_handwriting``; ``dropped_code`` and
    ``dropped_as`` (the code a homoglyph duplicates, or -1 for a speck); ``placeholders`` ("file:script").
    """
    canvas = config.image_size * render.SUPERSAMPLE
    faces, placeholders = render.draw_faces(fonts, scripts, canvas, list(config.handwriting))
    order = [c for cs in scripts.values() for c in cs if any(c in f.glyphs for f in faces)]
    speck = render.specks(faces, canvas)
    dups = _homoglyphs(faces, [c for c in order if c not in speck])
    classes = [c for c in order if c not in speck and c not in dups]
    rows = render.plan(faces, classes, config.renderings)
    jitter = (config.jitter_rotation, config.jitter_scale, config.jitter_shift, config.jitter_stroke)
    dropped = sorted(speck) + sorted(dups)
    return {
        "images": render.render(faces, rows, config.image_size, jitter, config.render_seed),
        "code": rows[:, 0].copy(), "face": rows[:, 1].copy(), "copy": rows[:, 2].copy(),
        "face_file": np.array([f.font.path.name for f in faces], dtype=str),
        "face_origin": np.array([f.font.origin for f in faces], dtype=str),
        "face_family": np.array([f.family for f in faces], dtype=str),
        "face_style": np.array([f.style for f in faces], dtype=str),
        "face_handwriting": np.array([f.handwriting for f in faces], dtype=bool),
        "dropped_code": np.array(dropped, dtype=np.int32),
        "dropped_as": np.array([-1] * len(speck) + [dups[c] for c in sorted(dups)], dtype=np.int32),
        "placeholders": np.array(placeholders, dtype=str),
    }


def recipe(fonts: list[FontFile], scripts: dict[str, tuple[int, ...]], config) -> dict:
    """Everything the world's arrays depend on; its sha256 names the cache file."""
    return {
        **drawing_recipe(),
        "version": WORLD_VERSION,
        "fonts": [[f.origin, f.path.name, f.path.stat().st_size] for f in fonts],
        "scripts": {name: list(codes) for name, codes in scripts.items()},
        "image_size": config.image_size,
        "speck": render.SPECK,
        "renderings": config.renderings,
        "handwriting": sorted(config.handwriting),
        "jitter": [config.jitter_rotation, config.jitter_scale, config.jitter_shift, config.jitter_stroke],
        "render_seed": config.render_seed,
    }


def load_or_build(fonts: list[FontFile], scripts: dict[str, tuple[int, ...]], config) -> tuple[dict, Path, bool]:
    """The world's arrays, from the cache when the recipe's file exists; returns (arrays, cache file, was_cached)."""
    return cached("glyph-world", recipe(fonts, scripts, config), lambda: build(fonts, scripts, config))
