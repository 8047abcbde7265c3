"""The glyphs world rendered once and cached on disk (``glyph_core.cache``), named by the sha256 of its recipe."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from metareg import seed_hash
from metareg_plugins.glyph_core.cache import cached, drawing_recipe
from metareg_plugins.glyph_core.draw import SUPERSAMPLE, apply_jitter, jitter_params
from metareg_plugins.glyph_core.faces import draw_faces
from metareg_plugins.glyph_core.fonts import FontFile

#: bump when rendering changes, so old cache files are not reused
RENDER_VERSION = 1
CACHE = "glyphs"  # the cache folder


def render_glyphs(fonts: list[FontFile], alphabets: dict[str, tuple[int, ...]], image_size: int, min_fonts: int,
                  instances_per_font: int, jitter: tuple[float, float, float], seed: int) -> dict[str, np.ndarray]:
    """Render every covered (character, font, instance) of ``alphabets``; characters need ``min_fonts`` fonts.

    Returns arrays ``images`` [N, S, S] uint8, ``code``, ``font``, ``instance`` [N] (sorted by code, font,
    instance), ``fonts`` (file names, indexed by ``font``) and ``placeholders`` ("font:alphabet" found by rendering).
    """
    codes = sorted({c for cs in alphabets.values() for c in cs})
    faces, placeholders = draw_faces(fonts, alphabets, image_size * SUPERSAMPLE)
    base = {face.index: face.glyphs for face in faces}
    count = {c: sum(c in g for g in base.values()) for c in codes}
    classes = [c for c in codes if count[c] >= min_fonts]
    rows = [(c, fi) for fi, glyphs in base.items() for c in classes if c in glyphs]
    m, k = len(rows), instances_per_font
    images = np.zeros((k, m, image_size, image_size), np.uint8)
    if m:
        params = torch.zeros(max(0, k - 1), 4, m)
        start = 0
        for fi, glyphs in base.items():  # rows are grouped by font; one seeded stream per font
            n = sum(1 for c in classes if c in glyphs)
            if n:
                gen = torch.Generator().manual_seed(seed_hash(seed, fonts[fi].path.name))
                params[:, :, start:start + n] = jitter_params(n, k - 1, gen, *jitter)
                start += n
        chunk = 2048
        for lo in range(0, m, chunk):
            hi = min(m, lo + chunk)
            x = torch.from_numpy(np.stack([base[fi][c] for c, fi in rows[lo:hi]])).unsqueeze(1).float().div_(255)
            for i in range(k):
                y = x if i == 0 else apply_jitter(x, *params[i - 1, :, lo:hi])
                y = F.avg_pool2d(y, SUPERSAMPLE).squeeze(1)
                images[i, lo:hi] = y.mul_(255).round_().to(torch.uint8).numpy()
    code = np.tile(np.array([c for c, _ in rows], np.int32), k)
    font = np.tile(np.array([fi for _, fi in rows], np.int32), k)
    inst = np.repeat(np.arange(k, dtype=np.int32), m)
    order = np.lexsort((inst, font, code))
    return {
        "images": images.reshape(k * m, image_size, image_size)[order],
        "code": code[order],
        "font": font[order],
        "instance": inst[order],
        "fonts": np.array([f.path.name for f in fonts]),
        "placeholders": np.array(placeholders, dtype=str),
    }


def recipe(fonts: list[FontFile], alphabets: dict[str, tuple[int, ...]], config) -> dict:
    """Everything the rendered arrays depend on; its sha256 names the cache file."""
    return {
        **drawing_recipe(),
        "version": RENDER_VERSION,
        "fonts": [[f.path.name, f.path.stat().st_size] for f in fonts],
        "alphabets": {k: list(v) for k, v in sorted(alphabets.items())},
        "image_size": config.image_size,
        "min_fonts": config.min_fonts,
        "instances_per_font": config.instances_per_font,
        "jitter": [config.jitter_rotation, config.jitter_scale, config.jitter_shift],
        "render_seed": config.render_seed,
    }


def load_or_render(fonts: list[FontFile], alphabets: dict[str, tuple[int, ...]], config) -> tuple[dict, Path, bool]:
    """The rendered arrays, from the cache when the recipe's file exists; returns (arrays, cache file, was_cached)."""
    jitter = (config.jitter_rotation, config.jitter_scale, config.jitter_shift)
    return cached(CACHE, recipe(fonts, alphabets, config), lambda: render_glyphs(
        fonts, alphabets, config.image_size, config.min_fonts, config.instances_per_font, jitter, config.render_seed))
