"""Few-shot episodes from a dataset already on disk (Omniglot, Office-31/Office-Home, mini-ImageNet); never downloads.

Images are read with Pillow lazily, when an episode first needs them, and kept decoded (uint8, resized) in a bounded
in-memory cache (``cache_images``), so constructing the benchmark only lists files: mini-ImageNet's 60,000 images
would take minutes to decode and ~1.3 GB to hold at 84x84. Omniglot is grayscale with the ink as 1 (its PNGs are
black strokes on white, inverted here to match ``digits`` and ``glyphs``); the others are RGB. Every image is resized
to ``image_size`` x ``image_size`` (no aspect-preserving crop, as the mini-ImageNet and Office papers do) and scaled
to [0, 1].

Modules, one idea each: ``layouts`` (the three trees and their scans), ``images`` (the lazy image cache and the
pool episodes are drawn from) and ``benchmark`` (the benchmark contract).
"""
from __future__ import annotations

import metareg
from metareg_plugins.folder.benchmark import Folder

__all__ = ["Folder"]


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(Folder)
