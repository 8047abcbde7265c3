"""The alphabets of the glyph world: which code points of each script (or symbol set) may become classes.

A script is a list of Unicode blocks, filtered by the character database rather than listed by hand, so the lists
say why a character is in or out:

- letters, digits and signs are in (general categories L*, N*, P*, S*);
- combining marks are out (M*: Devanagari vowel signs, Hebrew points, Arabic harakat), as are modifier letters (Lm)
  and every character with a decomposition: precomposed accented letters (``é`` is ``e`` + acute) and compatibility
  forms (``ﬁ``, ``ſ``, superscripts). A class is a base character, as Omniglot's classes are;
- spaces, controls and unassigned code points are out (Z*, C*).

Which of these become classes is decided later, by the fonts (``metareg_plugins.glyph_world.world``): a character no
installed font draws is simply absent. ``WORLD_ORDER`` is the order in which homoglyphs are resolved: a character
that looks like one of an earlier script (Greek 'Α' after Latin 'A') is not a class.
"""
from __future__ import annotations

import unicodedata

from metareg_plugins.glyph_core.names import parse_names

#: general categories a class may have: letters (not modifier letters), numbers, punctuation, symbols
KEPT_CATEGORIES = ("Lu", "Ll", "Lt", "Lo", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
                   "Sm", "Sc", "Sk", "So")

#: script (domain) name -> its Unicode blocks, inclusive ranges; in ``WORLD_ORDER``
BLOCKS: dict[str, tuple[tuple[int, int], ...]] = {
    # ASCII letters, digits and signs, Latin-1 and Latin Extended-A/B base letters (Æ, Ð, Ø, Þ, ß, Ł, Ŋ, Œ, ...)
    "latin": ((0x0021, 0x007E), (0x00A1, 0x00FF), (0x0100, 0x024F)),
    "greek": ((0x0370, 0x03E1), (0x03F0, 0x03FF)),  # without the Coptic letters U+03E2..U+03EF
    "cyrillic": ((0x0400, 0x052F),),
    "ipa": ((0x0250, 0x02AF),),  # the phonetic alphabet: turned, hooked and small-capital Latin letters
    "armenian": ((0x0531, 0x058F),),
    "georgian": ((0x10A0, 0x10FF), (0x1C90, 0x1CBF)),
    "hebrew": ((0x0591, 0x05FF),),
    "arabic": ((0x0600, 0x06FF), (0x0750, 0x077F)),
    "devanagari": ((0x0900, 0x097F),),
    "bengali": ((0x0980, 0x09FF),),
    "tamil": ((0x0B80, 0x0BFF),),
    "telugu": ((0x0C00, 0x0C7F),),
    "thai": ((0x0E00, 0x0E7F),),
    "khmer": ((0x1780, 0x17FF),),
    # symbol sets, alphabets of their own
    "arrows": ((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2900, 0x297F)),
    "math": ((0x2200, 0x22FF), (0x27C0, 0x27EF), (0x2980, 0x29FF)),
    "shapes": ((0x25A0, 0x25FF),),
    "currency": ((0x20A0, 0x20C0),),
}
WORLD_ORDER: tuple[str, ...] = tuple(BLOCKS)


def is_base_character(code: int) -> bool:
    """A letter, digit or sign that is not a combining mark, a modifier letter or a decomposable character."""
    ch = chr(code)
    return unicodedata.category(ch) in KEPT_CATEGORIES and not unicodedata.decomposition(ch)


def script_codes(name: str) -> tuple[int, ...]:
    """The candidate code points of script ``name``, ascending."""
    return tuple(c for lo, hi in BLOCKS[name] for c in range(lo, hi + 1) if is_base_character(c))


def parse_scripts(value: str, key: str) -> list[str]:
    """A comma-separated script list from the config (``all`` for every script, ``none`` for none), in the order
    given; an unknown name is a ConfigError naming ``key`` and the scripts there are."""
    return parse_names(value, WORLD_ORDER, f"benchmark.glyph-world.{key}", "script", "latin,greek", everything=True)


def in_world_order(names: list[str]) -> list[str]:
    """``names`` sorted as ``WORLD_ORDER``, the order homoglyphs are resolved in."""
    return sorted(set(names), key=WORLD_ORDER.index)
