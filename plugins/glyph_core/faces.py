"""Each font's plain glyphs, the drawing loop both glyph benchmarks start from.

A font counts once however many copies are installed (matplotlib's and the system's DejaVu), recognised by its
(family, style); a font that draws most characters of one alphabet as the very same image draws placeholder boxes
there (``fonts.is_placeholder``), so those characters are dropped from that font and the pair is reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from metareg_plugins.glyph_core.draw import SUPERSAMPLE, area, draw
from metareg_plugins.glyph_core.fonts import FontFile, covered, is_placeholder


@dataclass
class Face:
    """One font's plain glyphs, code point -> uint8 canvas [C, C]; ``index`` is its position in the font list."""

    index: int
    font: FontFile
    family: str
    style: str
    glyphs: dict[int, np.ndarray] = field(default_factory=dict)


def draw_faces(fonts: list[FontFile], alphabets: dict[str, tuple[int, ...]], canvas: int,
               progress: Callable[[Iterable], Iterable] = lambda items: items) -> tuple[list[Face], list[str]]:
    """The plain glyphs of every font that draws any of ``alphabets`` (name -> code points) on a ``canvas``-pixel
    square, and the "file:alphabet" pairs dropped as placeholders; ``progress`` wraps the loop over the fonts."""
    codes = sorted({c for cs in alphabets.values() for c in cs})
    faces, placeholders, seen = [], [], set()
    for index, font in enumerate(progress(fonts)):
        have, identity = covered(font, codes)
        if not have or identity in seen:
            continue
        seen.add(identity)
        images, kept = draw(font.path, have, canvas)
        drawn = dict(zip(kept, images))
        for name, cs in alphabets.items():
            mine = [c for c in cs if c in drawn]
            if mine and is_placeholder(np.stack([area(drawn[c], SUPERSAMPLE) for c in mine])):
                placeholders.append(f"{font.path.name}:{name}")
                for c in mine:
                    del drawn[c]
        if drawn:
            faces.append(Face(index, font, identity[0], identity[1], drawn))
    return faces, placeholders
