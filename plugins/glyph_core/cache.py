"""Rendered arrays cached on disk once, named by the sha256 of the recipe they were made from.

A glyph world takes seconds to minutes to draw and is a pure function of its recipe (font files, code points,
settings, seeds, the Pillow and FreeType versions and the drawing code's version), so a second construction only
loads a file. The file is written whole or not at all (``metareg.write_atomic``), so a concurrent run never reads
half of one; a truncated or foreign file is made again and overwritten, and a read-only cache is no reason to fail.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

import metareg
from metareg_plugins.glyph_core.draw import DRAW_VERSION, EM_FRACTION, FIT_FRACTION, SUPERSAMPLE


def cache_dir(name: str) -> Path:
    """The folder ``name`` under ``$METAREG_CACHE``, or else under ``$XDG_CACHE_HOME/metareg`` or
    ``~/.cache/metareg``."""
    root = os.environ.get("METAREG_CACHE")
    if root:
        return Path(root).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "metareg" / name


def drawing_recipe() -> dict:
    """What every drawn glyph depends on beyond a benchmark's own settings: the libraries and the drawing rules."""
    import PIL
    from PIL import features

    return {"draw": DRAW_VERSION, "pillow": PIL.__version__, "freetype": features.version("freetype2"),
            "supersample": SUPERSAMPLE, "em": EM_FRACTION, "fit": FIT_FRACTION}


def cached(name: str, recipe: dict, make: Callable[[], dict[str, np.ndarray]]
           ) -> tuple[dict[str, np.ndarray], Path, bool]:
    """The arrays of ``recipe``'s file in the cache folder ``name``, or ``make()``'s, then saved there; returns
    (arrays, cache file, was_cached)."""
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    path = cache_dir(name) / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}, path, True
        except Exception:  # truncated or foreign: made again below
            pass
    data = make()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        metareg.write_atomic(path, buffer.getvalue())
    except OSError:
        pass
    return data, path, False
