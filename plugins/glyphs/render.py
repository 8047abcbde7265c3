"""The glyphs world rendered once and cached on disk, named by the sha256 of its recipe."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from metareg_plugins.glyphs.draw import (EM_FRACTION, FIT_FRACTION, SUPERSAMPLE, apply_jitter, area, draw,
                                         jitter_params)
from metareg_plugins.glyphs.fonts import covered, is_placeholder

#: bump when rendering changes, so old cache files are not reused
RENDER_VERSION = 1


def _base_glyphs(fonts: list[Path], alphabets: dict[str, tuple[int, ...]], codes: list[int],
                 canvas: int) -> tuple[dict[int, dict[int, np.ndarray]], list[str]]:
    """Each usable font's unjittered canvas glyphs (font index -> code -> image), and the "font:alphabet" pairs
    left out because the font draws that alphabet as placeholder boxes."""
    base: dict[int, dict[int, np.ndarray]] = {}
    placeholders = []
    seen: set[tuple[str, str]] = set()
    for fi, path in enumerate(fonts):
        have, identity = covered(path, codes)
        if not have or identity in seen:  # the same font twice (matplotlib's and the system's DejaVu) counts once
            continue
        seen.add(identity)
        images, kept = draw(path, have, canvas)
        glyphs = dict(zip(kept, images))
        for name, cs in alphabets.items():
            mine = [c for c in cs if c in glyphs]
            if mine and is_placeholder(np.stack([area(glyphs[c], SUPERSAMPLE) for c in mine])):
                placeholders.append(f"{path.name}:{name}")
                for c in mine:
                    del glyphs[c]
        if glyphs:
            base[fi] = glyphs
    return base, placeholders


def render_glyphs(fonts: list[Path], alphabets: dict[str, tuple[int, ...]], image_size: int, min_fonts: int,
                  instances_per_font: int, jitter: tuple[float, float, float], seed: int) -> dict[str, np.ndarray]:
    """Render every covered (character, font, instance) of ``alphabets``; characters need ``min_fonts`` fonts.

    Returns arrays ``images`` [N, S, S] uint8, ``code``, ``font``, ``instance`` [N] (sorted by code, font,
    instance), ``fonts`` (file names, indexed by ``font``) and ``placeholders`` ("font:alphabet" found by rendering).
    """
    from metareg import seed_hash

    codes = sorted({c for cs in alphabets.values() for c in cs})
    base, placeholders = _base_glyphs(fonts, alphabets, codes, image_size * SUPERSAMPLE)
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
                gen = torch.Generator().manual_seed(seed_hash(seed, fonts[fi].name))
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
        "fonts": np.array([p.name for p in fonts]),
        "placeholders": np.array(placeholders, dtype=str),
    }


def cache_dir() -> Path:
    root = os.environ.get("METAREG_CACHE")
    if root:
        return Path(root).expanduser() / "glyphs"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "metareg" / "glyphs"


def recipe(fonts: list[Path], alphabets: dict[str, tuple[int, ...]], config) -> dict:
    """Everything the rendered arrays depend on; its sha256 names the cache file."""
    import PIL
    from PIL import features

    return {
        "version": RENDER_VERSION,
        "pillow": PIL.__version__,
        "freetype": features.version("freetype2"),
        "fonts": [[p.name, p.stat().st_size] for p in fonts],
        "alphabets": {k: list(v) for k, v in sorted(alphabets.items())},
        "image_size": config.image_size,
        "supersample": SUPERSAMPLE,
        "em": EM_FRACTION,
        "fit": FIT_FRACTION,
        "min_fonts": config.min_fonts,
        "instances_per_font": config.instances_per_font,
        "jitter": [config.jitter_rotation, config.jitter_scale, config.jitter_shift],
        "render_seed": config.render_seed,
    }


def load_or_render(fonts: list[Path], alphabets: dict[str, tuple[int, ...]], config) -> tuple[dict, Path, bool]:
    """The rendered arrays, from the cache when the recipe's file exists; returns (arrays, cache file, was_cached)."""
    key = hashlib.sha256(json.dumps(recipe(fonts, alphabets, config), sort_keys=True).encode()).hexdigest()
    path = cache_dir() / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}, path, True
        except Exception:  # a truncated or foreign file: render again and overwrite it
            pass
    data = render_glyphs(fonts, alphabets, config.image_size, config.min_fonts, config.instances_per_font,
                         (config.jitter_rotation, config.jitter_scale, config.jitter_shift), config.render_seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **data)
        os.replace(tmp, path)
    except OSError:  # a read-only cache is no reason to fail; the next construction renders again
        pass
    return data, path, False
