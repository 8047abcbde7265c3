"""Reading a user's image files for ``metareg predict``: one function that opens a file or names it in the error.

Why here: every benchmark that reads images (digits, glyph-world, folder) must fail the same way on a file it
cannot decode, a clear error naming the file, so ``metareg predict`` can exit 2 with it; the preparation itself
(size, channels, value range) stays each benchmark's own. A file with more pixels than Pillow's guard against
decompression bombs allows (``Image.MAX_IMAGE_PIXELS``) is refused by name too, from the size its header declares,
before anything is decoded: Pillow only warns below twice the limit, and would then decode it whole.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from metareg.errors import MetaregError


class UnreadableImageError(MetaregError):
    """A file given as an image that Pillow cannot decode."""


def open_image(path: str | Path, mode: str):
    """``path`` decoded by Pillow and converted to ``mode`` ("L" or "RGB"), loaded into memory."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableImageError(f"image {str(path)!r} is too large: it has more than {Image.MAX_IMAGE_PIXELS} "
                                   f"pixels, Pillow's limit against decompression bombs; shrink it, or remove the "
                                   f"file") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UnreadableImageError(f"cannot read image {str(path)!r} ({type(exc).__name__}: {exc}); give PNG, JPEG "
                                   f"or another format Pillow reads, or remove the file") from None
