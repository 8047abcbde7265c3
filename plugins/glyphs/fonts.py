"""Which installed font files glyphs draws with: matplotlib's, ``extra_font_paths`` and, if asked, fontconfig's.

Every file is judged strictly (``glyph_core.fonts.covered``), since ``extra_font_paths`` and fontconfig may bring
TeX-encoded fonts whose cmaps lie, as matplotlib's ``cm*`` fonts do.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import metareg
from metareg_plugins.glyph_core.fonts import FontFile, expand, matplotlib_font_dir, usable


def fontconfig_files() -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line) for line in out.stdout.splitlines() if line.strip()]


def font_files(config) -> list[FontFile]:
    """matplotlib's fonts, then ``extra_font_paths``, then fontconfig's (if asked); each file (by name and size)
    once, placeholders by name removed."""
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
        if key is None or key in seen or not usable(p):
            continue
        seen.add(key)
        out.append(FontFile(p, "glyphs"))
    return out
