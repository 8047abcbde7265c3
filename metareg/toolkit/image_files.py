"""Reading a user's image files for ``metareg predict``: one function that opens a file or names it in the error.

Why here: every benchmark that reads images (digits, glyph-world, folder) must fail the same way on a file it
cannot decode, a clear error naming the file, so ``metareg predict`` can exit 2 with it; the preparation itself
(size, channels, value range) stays each benchmark's own.
"""
from __future__ import annotations

from pathlib import Path

from metareg.errors import MetaregError


class UnreadableImageError(MetaregError):
    """A file given as an image that Pillow cannot decode."""


def open_image(path: str | Path, mode: str):
    """``path`` decoded by Pillow and converted to ``mode`` ("L" or "RGB"), loaded into memory."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.convert(mode)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UnreadableImageError(f"cannot read image {str(path)!r} ({type(exc).__name__}: {exc}); give PNG, JPEG "
                                   f"or another format Pillow reads, or remove the file") from None
