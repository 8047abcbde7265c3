"""Many-class characters rendered offline from installed fonts, with alphabets as domains (Omniglot-style, no download).

Every character (Unicode code point) is a class; every (font file, seeded affine jitter) is an instance of it. The
fonts are those matplotlib ships (DejaVu, STIX, the Computer Modern ``cm*`` fonts), optionally with more files or
folders (``extra_font_paths``) and the system's fonts as fontconfig lists them (``use_fontconfig``).

Which fonts "cover" a character is decided strictly, because a font that claims a code point and draws something
else would put wrong images into a class:

- the code point must be in the font's cmap (``matplotlib.ft2font.FT2Font.get_charmap``);
- when the font has glyph names, the glyph's name must mean that character (Adobe Glyph List, via ``fontTools.agl``,
  which matplotlib depends on). matplotlib's BaKoMa TeX fonts map ASCII code points to TeX-encoded glyphs: in
  ``cmex10`` 'A' is a big parenthesis and in ``cmsy10`` 'a' is a turnstile, and only this check rejects them;
- placeholder fonts are skipped: by name (Apple's *LastResort*, which maps every code point to a box per Unicode
  block, is shipped by matplotlib) and by rendering, when most characters of an alphabet draw the very same image
  (see ``is_placeholder``); glyphs that draw no ink are skipped.

Rendering: each glyph is drawn with Pillow at a fixed em size (the same for every font, so a font's 'o' stays smaller
than its 'O' and homoglyphs such as Latin 'A' and Cyrillic 'А' come out identical), centred by its bounding box,
shrunk only if it would not fit, on a canvas ``SUPERSAMPLE`` times the output size; jittered copies (rotation,
scale, shift, seeded per font) are resampled there (bilinear) and area-averaged down to ``image_size``. Instance 0 of
every font is the unjittered glyph. Ink is 1, background 0. The rendered arrays are cached as an ``.npz`` file under
``$METAREG_CACHE/glyphs`` (default ``$XDG_CACHE_HOME/metareg/glyphs`` or ``~/.cache/metareg/glyphs``), named by the
sha256 of the recipe (font file names and sizes, alphabets, image size, jitter, seeds, Pillow/FreeType and code
version), so a second construction only loads a file.

Modules, one idea each: ``alphabets`` (the domains' code points), ``fonts`` (which files, which characters each
really draws), ``draw`` (one glyph and its jittered copies), ``render`` (the world rendered once and cached),
``homoglyphs`` (characters that draw the same) and ``benchmark`` (the benchmark contract).
"""
from __future__ import annotations

import metareg
from metareg_plugins.glyphs.alphabets import ALPHABETS
from metareg_plugins.glyphs.benchmark import Glyphs

__all__ = ["ALPHABETS", "Glyphs"]


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(Glyphs)
