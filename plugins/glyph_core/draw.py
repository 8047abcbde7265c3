"""Drawing one glyph and its seeded jittered copies: the rendering rules both glyph benchmarks share.

One em size for every font (so homoglyphs come out identical), centred by the bounding box, shrunk only to fit,
on a canvas ``SUPERSAMPLE`` times the output size; copies are rotated, scaled and shifted there and area-averaged
down to the output size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SUPERSAMPLE = 2  # glyphs are drawn and jittered at twice the output size, then area-averaged down
EM_FRACTION = 0.7  # the font size (em) as a fraction of the canvas side
FIT_FRACTION = 0.85  # a glyph whose bounding box exceeds this fraction of the canvas is shrunk to fit
#: bump when drawing changes (here or in ``faces``), so no benchmark reuses a cache file drawn the old way
DRAW_VERSION = 1


def draw(font_path: Path, codes: list[int], canvas: int) -> tuple[np.ndarray, list[int]]:
    """Unjittered glyphs [n, canvas, canvas] uint8, centred by bounding box; drops glyphs without ink."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size=max(4, round(EM_FRACTION * canvas)),
                              layout_engine=ImageFont.Layout.BASIC)
    fit = FIT_FRACTION * canvas
    images, kept = [], []
    for c in codes:
        ch = chr(c)
        x0, y0, x1, y1 = font.getbbox(ch)
        w, h = x1 - x0, y1 - y0
        if w <= 0 or h <= 0:
            continue
        glyph = Image.new("L", (w, h))
        ImageDraw.Draw(glyph).text((-x0, -y0), ch, font=font, fill=255)
        if glyph.getbbox() is None:
            continue  # no ink
        if w > fit or h > fit:
            s = fit / max(w, h)
            glyph = glyph.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
        out = Image.new("L", (canvas, canvas))
        out.paste(glyph, ((canvas - glyph.width) // 2, (canvas - glyph.height) // 2))
        images.append(np.asarray(out))
        kept.append(c)
    if not images:
        return np.zeros((0, canvas, canvas), np.uint8), []
    return np.stack(images), kept


def apply_jitter(base: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, tx: torch.Tensor,
                 ty: torch.Tensor) -> torch.Tensor:
    """Affine copies of ``base`` [n, 1, H, W]: rotation ``angle`` (radians), ``scale``, shift in normalised units."""
    n, _, h, w = base.shape
    view = lambda t: t.view(n, 1, 1)  # noqa: E731
    cos, sin = view(torch.cos(angle) / scale), view(torch.sin(angle) / scale)
    # output -> input coordinates (what grid_sample wants): p_in = R(-angle) (p_out - t) / scale, built by
    # broadcasting, which is several times faster than F.affine_grid on CPU
    xs = ((torch.arange(w) + 0.5) * (2 / w) - 1).view(1, 1, w) - view(tx)
    ys = ((torch.arange(h) + 0.5) * (2 / h) - 1).view(1, h, 1) - view(ty)
    grid = torch.stack([cos * xs + sin * ys, cos * ys - sin * xs], -1)
    return F.grid_sample(base, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def jitter_params(n: int, copies: int, generator: torch.Generator, rotation: float, scale: float,
                   shift: float) -> torch.Tensor:
    """[copies, 4, n]: angle (radians), scale, x and y shift (normalised coordinates span 2) per jittered copy."""
    u = 2 * torch.rand(copies, 4, n, generator=generator) - 1
    return torch.stack([torch.deg2rad(rotation * u[:, 0]), 1 + scale * u[:, 1], 2 * shift * u[:, 2],
                        2 * shift * u[:, 3]], 1)


def area(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` [H, W] averaged over ``factor`` x ``factor`` blocks, rounded to uint8."""
    h, w = image.shape
    return image.reshape(h // factor, factor, w // factor, factor).mean((1, 3)).round().astype(np.uint8)
