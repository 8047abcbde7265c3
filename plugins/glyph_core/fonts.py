"""Which font files may draw glyphs, and which characters each really draws.

A font that claims a code point and draws something else would put wrong images into a class, so coverage is strict
where a font's cmap may lie: the code point must be in the cmap (``matplotlib.ft2font.FT2Font.get_charmap``) and,
when the font names its glyphs, the glyph's name must mean that character (Adobe Glyph List, via ``fontTools.agl``,
which matplotlib depends on). matplotlib's BaKoMa TeX fonts map ASCII code points to TeX-encoded glyphs (in
``cmex10`` 'A' is a big parenthesis, in ``cmsy10`` 'a' a turnstile), and only this check rejects them. Fonts built
with Unicode cmaps whose Indic and Thai glyphs carry production names that say nothing to the Adobe Glyph List
('atamil', 'bnA') are judged leniently (``FontFile.strict`` false): a glyph counts unless its name names *another*
character. Placeholder fonts are left out by name (Apple's *LastResort*, which matplotlib ships) and by rendering
(``is_placeholder``).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import metareg

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
PLACEHOLDER_NAMES = ("lastresort", "last resort")


@dataclass(frozen=True)
class FontFile:
    """A font file, where it came from (``matplotlib``, a distribution's name, a folder), and whether its glyph
    names must confirm each character (``strict``; see the module doc)."""

    path: Path
    origin: str
    strict: bool = True


def matplotlib_font_dir() -> Path:
    """matplotlib's bundled TTF folder, found without importing matplotlib (0.5 s) so a cached build stays fast."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise metareg.ConfigError("the glyph benchmarks render matplotlib's fonts: pip install 'matplotlib>=3.6' "
                                  "pillow")
    return Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf"


def expand(path: Path) -> list[Path]:
    """A folder's font files (recursively, sorted), or the path itself."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
    return [path]


def excluded_by_name(path: Path) -> bool:
    """Fonts known to draw a placeholder box for every code point (Apple's LastResort)."""
    name = path.name.lower().replace("-", "").replace("_", "")
    return any(p.replace(" ", "") in name for p in PLACEHOLDER_NAMES)


def usable(path: Path) -> bool:
    """A font file by its suffix, and not a placeholder font by its name."""
    return path.suffix.lower() in FONT_SUFFIXES and not excluded_by_name(path)


def matplotlib_fonts() -> list[Path]:
    """matplotlib's bundled font files, placeholder fonts excluded by name, in file-name order."""
    return [p for p in expand(matplotlib_font_dir()) if usable(p)]


def glyph_name_means(name: str, code: int) -> bool | None:
    """Whether a glyph name denotes ``code`` per the Adobe Glyph List; None when the name says nothing."""
    from fontTools import agl

    base = name.split(".")[0]
    meant = set(agl.LEGACY_AGL2UV.get(base, ())) | {ord(ch) for ch in agl.toUnicode(name)}
    if not meant:
        return None
    want = unicodedata.normalize("NFKC", chr(code))  # e.g. 'Omega' is U+2126 OHM SIGN in the AGL, NFKC U+03A9
    return code in meant or any(unicodedata.normalize("NFKC", chr(m)) == want for m in meant if m < 0x110000)


def _names_another(name: str, code: int) -> bool:
    """Whether a glyph name denotes a character other than ``code`` (a ligature name 'a_b' denotes none)."""
    base = name.split(".")[0]
    if not base or "_" in base:
        return False
    return glyph_name_means(base, code) is False


def _names_glyphs(font) -> bool:
    try:
        from matplotlib.ft2font import FaceFlags

        return FaceFlags.GLYPH_NAMES in font.face_flags
    except ImportError:  # matplotlib < 3.10: plain integer flags
        return bool(int(font.face_flags) & (1 << 9))


def covered(font: FontFile, codes: list[int]) -> tuple[list[int], tuple[str, str]]:
    """The code points of ``codes`` that ``font`` really draws (the module doc says how), and its (family, style),
    by which copies of one font in two folders are recognised."""
    from matplotlib.ft2font import FT2Font

    try:
        face = FT2Font(str(font.path))
    except Exception:  # not a font FreeType can read: skip it
        return [], ("", font.path.name)
    cmap = face.get_charmap()
    if font.strict:
        named = _names_glyphs(face)
        # a cmap that lies (TeX encodings), or a name that does not confirm the character, is left out
        have = [c for c in codes if cmap.get(c, 0) and not (named and not glyph_name_means(
            face.get_glyph_name(cmap[c]), c))]
    else:
        have = [c for c in codes if cmap.get(c, 0) and not _names_another(face.get_glyph_name(cmap[c]), c)]
    return have, (face.family_name, face.style_name)


def is_placeholder(images: np.ndarray, max_unique_fraction: float = 0.5) -> bool:
    """True when renders of distinct characters ([n, H, W]) are mostly the same image: a placeholder font.

    Needs at least 4 characters to judge. A real font draws distinct characters differently (homoglyphs occur across
    alphabets, not within one), a LastResort-like font draws one box per Unicode block.
    """
    if len(images) < 4:
        return False
    unique = {np.ascontiguousarray(im).tobytes() for im in images}
    return len(unique) <= max_unique_fraction * len(images)
