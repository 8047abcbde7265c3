"""Images read lazily: a bounded cache of decoded, resized images, what the benchmark's ``ClassPool`` loads with."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch


class ImageCache:
    """Decodes image files into uint8 tensors [C, S, S], keeping the ``capacity`` most recently used."""

    def __init__(self, image_size: int, grayscale: bool, invert: bool, capacity: int):
        self.size, self.grayscale, self.invert, self.capacity = image_size, grayscale, invert, capacity
        self._cache: OrderedDict[Path, torch.Tensor] = OrderedDict()

    def decode(self, path: Path) -> torch.Tensor:
        from PIL import Image

        from metareg import open_image

        im = open_image(path, "L" if self.grayscale else "RGB")
        if im.size != (self.size, self.size):
            im = im.resize((self.size, self.size), Image.Resampling.LANCZOS)
        data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
        data = data.view(self.size, self.size, -1).permute(2, 0, 1).contiguous()
        return 255 - data if self.invert else data

    def __call__(self, paths: list[Path]) -> torch.Tensor:
        """The images of ``paths`` as one float tensor [n, C, S, S] in [0, 1]."""
        out = []
        for p in paths:
            image = self._cache.get(p)
            if image is None:
                image = self.decode(p)
                if self.capacity:
                    self._cache[p] = image
                    if len(self._cache) > self.capacity:
                        self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(p)
            out.append(image)
        return torch.stack(out).float().div_(255)
