"""Many-class characters rendered offline from installed fonts, with alphabets as domains (Omniglot-style, no download).

Every character (Unicode code point) is a class; every (font file, seeded affine jitter) is an instance of it. The
fonts are those matplotlib ships (DejaVu, STIX, the Computer Modern ``cm*`` fonts), optionally with more files or
folders (``extra_font_paths``) and the system's fonts as fontconfig lists them (``use_fontconfig``).

Which fonts "cover" a character is decided strictly (``glyph_core.fonts``), because a font that claims a code point
and draws something else would put wrong images into a class; placeholder fonts are skipped by name and by rendering,
and glyphs that draw no ink are skipped.

Rendering: each glyph is drawn with Pillow at a fixed em size (the same for every font, so a font's 'o' stays smaller
than its 'O' and homoglyphs such as Latin 'A' and Cyrillic 'А' come out identical: ``glyph_core.draw``); jittered
copies (rotation, scale, shift, seeded per font) are resampled on the supersampled canvas and area-averaged down to
``image_size``. Instance 0 of every font is the unjittered glyph. Ink is 1, background 0. The rendered arrays are
cached as an ``.npz`` file under ``$METAREG_CACHE/glyphs`` (default ``$XDG_CACHE_HOME/metareg/glyphs`` or
``~/.cache/metareg/glyphs``), named by the sha256 of the recipe (``glyph_core.cache``), so a second construction only
loads a file.

Modules, one idea each: ``alphabets`` (the domains' code points), ``fonts`` (which files), ``render`` (the world
rendered once and cached) and ``benchmark`` (the benchmark contract); the drawing, coverage, homoglyph and cache rules
are ``metareg_plugins.glyph_core``'s, which glyph-world shares.
"""
from __future__ import annotations

import metareg
from metareg_plugins.glyphs.alphabets import ALPHABETS
from metareg_plugins.glyphs.benchmark import Glyphs

__all__ = ["ALPHABETS", "Glyphs"]


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(Glyphs)
