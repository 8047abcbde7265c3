"""The faces that draw the glyph world: matplotlib's bundled fonts and the installed ``fontpkg-*`` distributions.

Nothing is downloaded at run time. ``fontpkg-*`` distributions (Google Fonts families packaged for pip, installed by
``pip install 'metareg[fonts]'``) are found through ``importlib.metadata``: every installed distribution whose name
starts with ``fontpkg-``, and the ``.ttf``/``.otf`` files among its recorded files. fontpkg's own Python API is not
used (it is young and may change); a wheel's file list is a packaging standard.

A static family ships one file per weight (Fira Sans has 18); weights are not different drawers, so each
distribution contributes its upright and italic faces of the weight nearest to 400 (a variable font's default
instance). matplotlib's fonts are taken as the ``glyphs`` benchmark takes them (placeholder fonts excluded by name).

Coverage differs by origin (``glyph_core.fonts.covered``). matplotlib ships TeX-encoded fonts whose cmaps lie
(``cmex10`` maps 'A' to a parenthesis), so for them the glyph name must confirm the character (``strict``). fontpkg
files are Google Fonts builds with Unicode cmaps, whose Indic and Thai glyphs carry production names that say
nothing to the Adobe Glyph List ('atamil', 'bnA', 'tm_A'); there a glyph counts unless its name names *another*
character. Both then go through the same placeholder test by rendering (``glyph_core.fonts.is_placeholder``).
"""
from __future__ import annotations

import importlib.metadata as md
import warnings
from pathlib import Path

from metareg_plugins.glyph_core import fonts as core_fonts
from metareg_plugins.glyph_core.fonts import FontFile

FONTPKG_PREFIX = "fontpkg-"
FONT_FILES = (".ttf", ".otf")
EXTRA = "pip install 'metareg[fonts]'"

#: families drawn like handwriting (the ``style`` domains' target); the ``handwriting`` setting replaces this list.
#: Every Google family in the ``fonts`` extra that Google Fonts files under HANDWRITING is here.
HANDWRITING = ("Caveat", "Dancing Script", "Delius", "Great Vibes", "Indie Flower", "Kalam", "Pacifico",
               "Permanent Marker", "Satisfy", "Shadows Into Light", "Yellowtail", "Zeyada")


class FontsMissingWarning(UserWarning):
    """No ``fontpkg-*`` font is installed: the world is drawn by matplotlib's fonts alone."""


def matplotlib_fonts() -> list[FontFile]:
    """matplotlib's bundled fonts, placeholder fonts (LastResort) excluded by name, in file-name order."""
    return [FontFile(p, "matplotlib") for p in core_fonts.matplotlib_fonts()]


def _weight_and_italic(path: Path) -> tuple[int, bool] | None:
    """(OS/2 weight class, italic) of a font file; None when fontTools cannot read it."""
    from fontTools.ttLib import TTFont

    try:
        with TTFont(str(path), lazy=True) as font:
            weight = int(font["OS/2"].usWeightClass)
            italic = bool(font["head"].macStyle & 0b10) or bool(font["OS/2"].fsSelection & 0b1)
    except Exception:  # not a font fontTools can read: skip it
        return None
    return weight, italic


def _regular_faces(paths: list[Path]) -> list[Path]:
    """Of one family's files, the upright and the italic file of the weight nearest to 400 (ties: file name)."""
    best: dict[bool, tuple[tuple[int, str], Path]] = {}
    for path in paths:
        read = _weight_and_italic(path)
        if read is None:
            continue
        key = (abs(read[0] - 400), path.name)
        if read[1] not in best or key < best[read[1]][0]:
            best[read[1]] = (key, path)
    return [best[italic][1] for italic in sorted(best)]


def fontpkg_fonts() -> list[FontFile]:
    """The regular faces of every installed ``fontpkg-*`` distribution, by distribution name."""
    found: dict[str, list[Path]] = {}
    for dist in md.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if not name.startswith(FONTPKG_PREFIX) or name in found:
            continue
        files = [Path(str(dist.locate_file(f))) for f in dist.files or () if f.suffix.lower() in FONT_FILES]
        found[name] = sorted(p for p in files if p.is_file())
    return [FontFile(p, name, strict=False) for name in sorted(found) for p in _regular_faces(found[name])]


def installed_fonts_identity(use_fontpkg: bool) -> str:
    """The installed font distributions the world is drawn from (matplotlib's and, with ``use_fontpkg``, every
    ``fontpkg-*``), as ``name==version`` lines: a run with and without the fonts extra draws another world, so its
    identity must differ (``Benchmark.data_identity``)."""
    wanted = [d for d in md.distributions() if (d.metadata["Name"] or "").lower() == "matplotlib"
              or (use_fontpkg and (d.metadata["Name"] or "").lower().startswith(FONTPKG_PREFIX))]
    return ";".join(sorted({f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in wanted}))


def font_files(use_fontpkg: bool) -> list[FontFile]:
    """matplotlib's fonts, then (if ``use_fontpkg``) the fontpkg faces; warns once when none of those is installed."""
    out = matplotlib_fonts()
    if use_fontpkg:
        extra = fontpkg_fonts()
        if not extra:
            warnings.warn(f"glyph-world: no fontpkg-* fonts are installed, so only matplotlib's fonts draw the world "
                          f"(fewer scripts and classes; see `metareg plugins`): {EXTRA}", FontsMissingWarning,
                          stacklevel=2)
        out += extra
    return out


def is_handwriting(family: str, handwriting: list[str] | tuple[str, ...]) -> bool:
    """Whether ``family`` is one of the ``handwriting`` family names (case and spacing ignored)."""
    norm = lambda s: "".join(s.lower().split())  # noqa: E731
    return norm(family) in {norm(h) for h in handwriting}
