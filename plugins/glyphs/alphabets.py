"""The alphabets (domains) of glyphs, as code points: letters only, no accented or compatibility forms."""
from __future__ import annotations

def _r(*ranges: tuple[int, int], skip: tuple[int, ...] = ()) -> tuple[int, ...]:
    return tuple(c for a, b in ranges for c in range(a, b + 1) if c not in skip)


#: alphabet (domain) name -> its code points (letters only: no accented or compatibility forms)
ALPHABETS: dict[str, tuple[int, ...]] = {
    "latin": _r((0x41, 0x5A), (0x61, 0x7A)),
    "greek": _r((0x391, 0x3A9), (0x3B1, 0x3C9), skip=(0x3A2,)),
    "cyrillic": _r((0x410, 0x44F)),
    "armenian": _r((0x531, 0x556), (0x561, 0x586)),
    "georgian": _r((0x10D0, 0x10F0)),
    "hebrew": _r((0x5D0, 0x5EA)),
    "arrows": _r((0x2190, 0x21FF)),
    "math": _r((0x2200, 0x22FF)),
}


# ---------------------------------------------------------------------------------------------------------- fonts
