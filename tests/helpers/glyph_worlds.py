"""The small glyph world the glyph-world tests share: Latin and Greek at 16 px, matplotlib's fonts and a few fontpkg
families (three print, six handwriting), six renderings per class and kind, built once per session in a private
cache (the ``small_world`` fixture of tests/plugins/conftest.py)."""
from __future__ import annotations

import warnings

import pytest

pytest.importorskip("matplotlib", reason="glyph-world reads fonts with matplotlib's FreeType wrapper")
pytest.importorskip("PIL", reason="glyph-world renders with Pillow")

from metareg_plugins.glyph_world import GlyphWorld, fonts  # noqa: E402

SMALL = dict(source_scripts="latin", target_scripts="greek", image_size=16, renderings=6, n_query=3)
#: the fontpkg families of the small world: three print, six handwriting
FAMILIES = ("noto-sans", "roboto", "open-sans", "caveat", "dancing-script", "indie-flower", "pacifico", "satisfy",
            "kalam")


#: every installed fontpkg face, read before any test patches ``fonts.fontpkg_fonts``
ALL_FONTPKG = fonts.fontpkg_fonts()


def few_fontpkg_fonts():
    return [f for f in ALL_FONTPKG if f.origin.removeprefix("fontpkg-") in FAMILIES]


def use_small_world(mp: pytest.MonkeyPatch, cache) -> None:
    """Point the cache at the small world's folder and glyph-world at its fontpkg families."""
    mp.setenv("METAREG_CACHE", str(cache))
    mp.setattr(fonts, "fontpkg_fonts", few_fontpkg_fonts)


def build(cache, **settings):
    """A ``GlyphWorld`` of the small world with ``settings`` over ``SMALL``."""
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        use_small_world(mp, cache)
        warnings.simplefilter("ignore", fonts.FontsMissingWarning)  # the no-extra note has a test of its own
        return GlyphWorld(GlyphWorld.Config(**{**SMALL, **settings}))
