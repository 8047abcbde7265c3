"""glyph-world: an Omniglot-scale world of characters rendered offline from installed fonts (``GlyphWorld``).

Modules, one idea each: ``scripts`` (which code points each alphabet offers), ``fonts`` (which installed faces draw
them), ``render`` (plain glyphs and seeded renderings), ``world`` (the world built once and cached), ``splits``
(class splits of the three kinds of domain), ``camera`` (the seeded phone-camera model of the platform domain),
``photos`` (the world's print renderings photographed once and cached) and ``benchmark`` (the benchmark contract).
"""
from __future__ import annotations

import metareg
from metareg_plugins.glyph_world.benchmark import GlyphWorld

__all__ = ["GlyphWorld"]


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(GlyphWorld)
