"""Which installed font files glyphs draws with, and which characters each really draws.

A font that claims a code point and draws something else would put wrong images into a class, so coverage is
strict (the package docstring says how); glyph-world's font search builds on these checks.
"""
from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np

import metareg

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
PLACEHOLDER_NAMES = ("lastresort", "last resort")


def matplotlib_font_dir() -> Path:
    """matplotlib's bundled TTF folder, found without importing matplotlib (0.5 s) so a cached build stays fast."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise metareg.ConfigError("benchmark glyphs renders matplotlib's fonts: pip install 'matplotlib>=3.6' pillow")
    return Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf"


def fontconfig_files() -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line) for line in out.stdout.splitlines() if line.strip()]


def expand(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
    return [path]


def excluded_by_name(path: Path) -> bool:
    """Fonts known to draw a placeholder box for every code point (Apple's LastResort)."""
    name = path.name.lower().replace("-", "").replace("_", "")
    return any(p.replace(" ", "") in name for p in PLACEHOLDER_NAMES)


def font_files(config) -> list[Path]:
    """matplotlib's fonts, then ``extra_font_paths``, then fontconfig's (if asked); placeholders by name removed."""
    paths = expand(matplotlib_font_dir())
    for extra in config.extra_font_paths:
        p = Path(extra).expanduser()
        if not p.exists():
            raise metareg.ConfigError(f"benchmark.glyphs.extra_font_paths: {str(p)!r} does not exist")
        paths += expand(p)
    if config.use_fontconfig:
        paths += fontconfig_files()
    seen, out = set(), []
    for p in paths:
        key = (p.name, p.stat().st_size) if p.is_file() else None
        if key is None or key in seen or p.suffix.lower() not in FONT_SUFFIXES or excluded_by_name(p):
            continue
        seen.add(key)
        out.append(p)
    return out


def glyph_name_means(name: str, code: int) -> bool | None:
    """Whether a glyph name denotes ``code`` per the Adobe Glyph List; None when the name says nothing."""
    from fontTools import agl

    base = name.split(".")[0]
    meant = set(agl.LEGACY_AGL2UV.get(base, ())) | {ord(ch) for ch in agl.toUnicode(name)}
    if not meant:
        return None
    want = unicodedata.normalize("NFKC", chr(code))  # e.g. 'Omega' is U+2126 OHM SIGN in the AGL, NFKC U+03A9
    return code in meant or any(unicodedata.normalize("NFKC", chr(m)) == want for m in meant if m < 0x110000)


def covered(path: Path, codes: list[int]) -> tuple[list[int], tuple[str, str]]:
    """The code points of ``codes`` that the font really draws (in its cmap and, if it names glyphs, so named),
    and the font's (family, style), by which copies of one font in two folders are recognised."""
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(str(path))
    except Exception:  # not a font FreeType can read: skip it
        return [], ("", path.name)
    cmap = font.get_charmap()
    try:
        from matplotlib.ft2font import FaceFlags

        named = FaceFlags.GLYPH_NAMES in font.face_flags
    except ImportError:  # matplotlib < 3.10: plain integer flags
        named = bool(int(font.face_flags) & (1 << 9))
    out = []
    for c in codes:
        g = cmap.get(c, 0)
        if not g:
            continue
        if named and not glyph_name_means(font.get_glyph_name(g), c):
            continue  # a cmap that lies (TeX encodings) or a name that does not confirm the character
        out.append(c)
    return out, (font.family_name, font.style_name)


def is_placeholder(images: np.ndarray, max_unique_fraction: float = 0.5) -> bool:
    """True when renders of distinct characters ([n, H, W]) are mostly the same image: a placeholder font.

    Needs at least 4 characters to judge. A real font draws distinct characters differently (homoglyphs occur across
    alphabets, not within one), a LastResort-like font draws one box per Unicode block.
    """
    if len(images) < 4:
        return False
    unique = {np.ascontiguousarray(im).tobytes() for im in images}
    return len(unique) <= max_unique_fraction * len(images)


# ------------------------------------------------------------------------------------------------------ rendering
