"""Images read lazily: a bounded cache of decoded, resized images, and the class pool episodes are drawn from."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch

from metareg import TaskBatch

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


class FilePool:
    """``ClassPool`` over image files: the same seeded episode draw, decoding only the images an episode uses."""

    def __init__(self, by_class: dict[str, list[Path]], load: ImageCache):
        self.classes = list(by_class)
        self.by_class = by_class
        self.load = load

    def __len__(self) -> int:
        return len(self.classes)

    def smallest_class(self) -> int:
        return min(len(v) for v in self.by_class.values())

    def episodes(self, n_tasks: int, n_way: int, k_shot: int, n_query: int, generator: torch.Generator,
                 domain: str = "source") -> TaskBatch:
        per_class = k_shot + n_query
        sx, qx = [], []
        for _ in range(n_tasks):
            chosen = torch.randperm(len(self.classes), generator=generator)[:n_way].tolist()
            support, query = [], []
            for ci in chosen:
                files = self.by_class[self.classes[ci]]
                pick = torch.randperm(len(files), generator=generator)[:per_class].tolist()
                support += [files[i] for i in pick[:k_shot]]
                query += [files[i] for i in pick[k_shot:]]
            sx.append(self.load(support))
            qx.append(self.load(query))
        sy = torch.arange(n_way).repeat_interleave(k_shot).expand(n_tasks, -1)
        qy = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1)
        return TaskBatch(torch.stack(sx), sy.contiguous(), torch.stack(qx), qy.contiguous(), domain=domain)


# ----------------------------------------------------------------------------------------------------- benchmark
