"""Drawing the glyph world: each face's plain glyphs, then the seeded renderings ("drawers") of every class.

The plain glyph is ``glyph_core.draw.draw``'s: one em size for every font, centred by its bounding box, shrunk only
if it would not fit, on a canvas ``SUPERSAMPLE`` times the output side. So Latin 'A' and Cyrillic 'А' come out alike
(the homoglyph test relies on it) and a font's 'o' stays smaller than its 'O'.

A class needs ``renderings`` images per kind of face (print, handwriting). Distinct fonts are the real drawers, so
every face that draws the character gives its plain glyph, and when there are fewer faces than ``renderings`` each
gives ``ceil(renderings / faces)`` copies: copy 0 plain, the others jittered on the canvas by a seeded rotation,
scale, shift and stroke width (a blend with the glyph's 3x3 dilation, bolder, or erosion, thinner; a blend and not
the morphology itself, so a hairline dims instead of vanishing), then area-averaged to the output size. Each face
draws its jitter from its own seeded stream, so adding a font does not change another font's renderings.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from metareg import seed_hash
from metareg_plugins.glyph_core import draw as glyph_draw, faces as glyph_faces
from metareg_plugins.glyph_core.fonts import FontFile
from metareg_plugins.glyph_world.fonts import is_handwriting

SUPERSAMPLE = glyph_draw.SUPERSAMPLE
#: a character whose ink, in most faces, spans less than this fraction of the canvas (a full stop, a comma, a
#: quote) is a speck: such classes differ by size alone once centred, so they are not classes
SPECK = 0.15
CHUNK = 2048  # renderings jittered per batch: bounds the memory of one batch to ~100 MB at 28 px


@dataclass
class Face(glyph_faces.Face):
    """One font face's plain glyphs (``glyph_core.faces.Face``), and whether it is drawn like handwriting."""

    handwriting: bool = False


def _progress(items, desc: str):
    """A tqdm bar on stderr when it is a terminal (tqdm's ``disable=None``), nothing in logs and tests."""
    from tqdm import tqdm

    return tqdm(items, desc=desc, file=sys.stderr, disable=None, leave=False)


def _progress_of(desc: str):
    return lambda items: _progress(items, desc)


def draw_faces(fonts: list[FontFile], scripts: dict[str, tuple[int, ...]], canvas: int,
               handwriting: list[str]) -> tuple[list[Face], list[str]]:
    """The plain glyphs of every face (``glyph_core.faces.draw_faces``: copies of one font count once, placeholder
    scripts dropped), each marked handwriting or print, and the "file:script" pairs dropped as placeholders."""
    faces, placeholders = glyph_faces.draw_faces(fonts, scripts, canvas, _progress_of("glyph-world: drawing fonts"))
    return [Face(**vars(f), handwriting=is_handwriting(f.family, handwriting)) for f in faces], placeholders


def specks(faces: list[Face], canvas: int) -> set[int]:
    """Characters whose median ink extent over the faces that draw them is below ``SPECK`` of the canvas."""
    extents: dict[int, list[float]] = {}
    for face in faces:
        codes = list(face.glyphs)
        ink = np.stack([face.glyphs[c] for c in codes]) > 64  # [n, C, C], anti-aliased fringes left out
        spans = []
        for axis in (1, 2):
            line = ink.any(axis=axis)  # [n, C]: the rows (columns) with ink
            first, last = line.argmax(1), canvas - 1 - line[:, ::-1].argmax(1)
            spans.append(np.where(line.any(1), last - first + 1, 0))
        for code, extent in zip(codes, np.maximum(*spans)):
            extents.setdefault(code, []).append(extent / canvas)
    return {code for code, e in extents.items() if float(np.median(e)) < SPECK}


def plan(faces: list[Face], classes: list[int], renderings: int) -> np.ndarray:
    """Rows (code, face index, copy) of every rendering, sorted by code, face and copy (see the module doc)."""
    rows = []
    for code in sorted(classes):
        drawers = [i for i, f in enumerate(faces) if code in f.glyphs]
        for kind in (False, True):
            mine = [i for i in drawers if faces[i].handwriting is kind]
            copies = math.ceil(renderings / len(mine)) if mine else 0
            rows += [(code, i, k) for i in mine for k in range(copies)]
    rows.sort()
    return np.array(rows, dtype=np.int32).reshape(-1, 3)


def _jitter_params(faces: list[Face], rows: np.ndarray, jitter: tuple[float, float, float, float],
                   seed: int) -> torch.Tensor:
    """[5, M]: angle (radians), scale, x and y shift, stroke blend per row; identity for every copy 0."""
    rotation, scale, shift, stroke = jitter
    params = torch.zeros(5, len(rows))
    params[1] = 1.0
    for i, face in enumerate(faces):
        mine = np.flatnonzero((rows[:, 1] == i) & (rows[:, 2] > 0))
        if not len(mine):
            continue
        gen = torch.Generator().manual_seed(seed_hash(seed, face.font.path.name))
        idx = torch.from_numpy(mine)
        params[:4, idx] = glyph_draw.jitter_params(len(mine), 1, gen, rotation, scale, shift)[0]
        params[4, idx] = stroke * (2 * torch.rand(len(mine), generator=gen) - 1)
    return params


def _stroke(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Blend ``x [n, 1, H, W]`` toward its 3x3 dilation by ``t > 0`` or its 3x3 erosion by ``-t`` (``t [n]``)."""
    t = t.view(-1, 1, 1, 1)
    bold = F.max_pool2d(x, 3, 1, 1)
    thin = -F.max_pool2d(-x, 3, 1, 1)
    return torch.where(t >= 0, x + t * (bold - x), x - t * (thin - x))


def render(faces: list[Face], rows: np.ndarray, image_size: int, jitter: tuple[float, float, float, float],
           seed: int) -> np.ndarray:
    """The renderings of ``rows`` (from ``plan``): uint8 [M, image_size, image_size], ink 255, background 0."""
    params = _jitter_params(faces, rows, jitter, seed)
    out = np.zeros((len(rows), image_size, image_size), np.uint8)
    for lo in _progress(range(0, len(rows), CHUNK), "glyph-world: rendering"):
        hi = min(len(rows), lo + CHUNK)
        base = np.stack([faces[f].glyphs[c] for c, f, _ in rows[lo:hi]])
        x = torch.from_numpy(base).unsqueeze(1).float().div_(255)
        moved = torch.from_numpy(np.flatnonzero(rows[lo:hi, 2] > 0))  # copy 0 is the plain glyph
        p = params[:, lo + moved]
        x[moved] = glyph_draw.apply_jitter(_stroke(x[moved], p[4]), *p[:4])
        y = F.avg_pool2d(x, SUPERSAMPLE).squeeze(1)
        out[lo:hi] = y.clamp_(0, 1).mul_(255).round_().to(torch.uint8).numpy()
    return out
