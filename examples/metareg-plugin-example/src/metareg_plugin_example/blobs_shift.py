"""blobs-shift: synthetic few-shot images with a domain shift, generated on the fly (no data, no download)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

import metareg
from metareg import TaskBatch, TaskSpec

SPLITS = ("train", "val", "test")


def blob_prototypes(n_classes: int, size: int, blobs: int, sigma_min: float, sigma_max: float,
                    generator: torch.Generator) -> torch.Tensor:
    """``[n_classes, size, size]`` images in [0, 1]: each the clamped sum of ``blobs`` isotropic Gaussian bumps of
    height 1 at uniform positions with widths σ uniform in [sigma_min, sigma_max] pixels."""
    centres = torch.rand((n_classes, blobs, 2), generator=generator) * size
    sigma = sigma_min + (sigma_max - sigma_min) * torch.rand((n_classes, blobs, 1, 1), generator=generator)
    grid = torch.arange(size, dtype=torch.float32)
    dy = grid.view(1, 1, size, 1) - centres[..., 0].view(n_classes, blobs, 1, 1)
    dx = grid.view(1, 1, 1, size) - centres[..., 1].view(n_classes, blobs, 1, 1)
    return torch.exp(-(dy**2 + dx**2) / (2 * sigma**2)).sum(1).clamp(0, 1)


def circular_shift(images: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """``images [..., H, W]`` each rolled by its own ``shifts [..., 2]`` (rows, columns), wrapping at the edges."""
    h, w = images.shape[-2:]
    rows = (torch.arange(h) - shifts[..., :1]) % h  # [..., H]
    cols = (torch.arange(w) - shifts[..., 1:]) % w  # [..., W]
    images = torch.gather(images, -2, rows.unsqueeze(-1).expand(*rows.shape, w))
    return torch.gather(images, -1, cols.unsqueeze(-2).expand(*cols.shape[:-1], h, w))


class BlobsShift(metareg.Benchmark):
    """N-way K-shot episodes of synthetic blob images; meta-test classes are new and their images contrast-inverted.

    Every class is a fixed pattern of Gaussian blobs (seeded by ``seed``); an instance is its pattern circularly
    shifted by up to ``max_shift`` pixels each way plus Gaussian pixel noise, drawn afresh from the episode's
    generator, so no two instances coincide. The classes are split (also by ``seed``) into disjoint meta-train,
    meta-val and meta-test classes. Meta-train and meta-val images are the source domain; meta-test images are the
    target domain, x → 1 − x (inverted contrast, as in digits-shift's ``invert``). The unlabelled target pool is
    fresh target-domain instances of the meta-test classes, never the instances of a test episode.

    Config:
        n_way, k_shot, n_query: episode shape (queries per class).
        image_size: side of the square one-channel images (16 suits conv4 and resnet12).
        train_classes, val_classes, test_classes: how many classes each split gets.
        blobs: Gaussian blobs per class pattern.  sigma_min, sigma_max: their widths in pixels.
        max_shift: largest circular shift of an instance, in pixels.  noise_std: pixel noise of an instance.
        seed: the class patterns and the class split (fixed, so every run sees the same classes).

    Example:
        metareg bench --learner matchingnet --benchmark blobs-shift --adversary mmd
    """

    name = "blobs-shift"
    task_kind = "classification"
    default_backbone = "conv4"
    train_defaults = {"meta_batch_size": 4, "meta_iterations": 300, "val_every": 100}

    @dataclass
    class Config:
        n_way: int = 5
        k_shot: int = 1
        n_query: int = 5
        image_size: int = 16
        train_classes: int = 24
        val_classes: int = 8
        test_classes: int = 8
        blobs: int = 3
        sigma_min: float = 1.0
        sigma_max: float = 2.5
        max_shift: int = 1
        noise_std: float = 0.1
        seed: int = 0

    def __init__(self, config):
        super().__init__(config)
        c = config
        counts = {"train": c.train_classes, "val": c.val_classes, "test": c.test_classes}
        small = [f"{split}_classes={n}" for split, n in counts.items() if n < c.n_way]
        if small:
            raise metareg.ConfigError(f"benchmark.blobs-shift: {', '.join(small)} is fewer than n_way={c.n_way}")
        if c.k_shot < 1 or c.n_query < 1 or c.image_size < 4 or c.blobs < 1:
            raise metareg.ConfigError("benchmark.blobs-shift: k_shot, n_query and blobs must be >= 1, image_size >= 4")
        if not 0 < c.sigma_min <= c.sigma_max or c.noise_std < 0 or c.max_shift < 0:
            raise metareg.ConfigError("benchmark.blobs-shift: need 0 < sigma_min <= sigma_max, noise_std >= 0 and "
                                      "max_shift >= 0")
        seeded = torch.Generator().manual_seed(c.seed)
        total = sum(counts.values())
        self.prototypes = blob_prototypes(total, c.image_size, c.blobs, c.sigma_min, c.sigma_max, seeded)
        order = torch.randperm(total, generator=seeded)
        bounds = torch.tensor([0, c.train_classes, c.train_classes + c.val_classes, total])
        #: split -> the class ids it owns (disjoint)
        self.classes = {split: order[bounds[i]:bounds[i + 1]] for i, split in enumerate(SPLITS)}
        self.spec = TaskSpec("classification", (1, c.image_size, c.image_size), c.n_way, c.k_shot, c.n_query,
                             n_way=c.n_way)

    def render(self, classes: torch.Tensor, count: int, target: bool, generator: torch.Generator) -> torch.Tensor:
        """``count`` fresh instances of each class id in ``classes [...]``: ``[..., count, 1, H, W]``."""
        c = self.config
        images = self.prototypes[classes].unsqueeze(-3).expand(*classes.shape, count, -1, -1)
        shifts = torch.randint(-c.max_shift, c.max_shift + 1, (*classes.shape, count, 2), generator=generator)
        noise = c.noise_std * torch.randn(images.shape, generator=generator)
        images = circular_shift(images, shifts) + noise
        return (1.0 - images if target else images).unsqueeze(-3)

    def sample(self, split, n_tasks, generator):
        c = self.config
        own = self.classes[split]
        picks = torch.stack([own[torch.randperm(len(own), generator=generator)[: c.n_way]] for _ in range(n_tasks)])
        x = self.render(picks, c.k_shot + c.n_query, split == "test", generator)  # [T, N, K+Q, 1, H, W]
        labels = torch.arange(c.n_way).view(1, -1, 1).expand(n_tasks, -1, c.k_shot + c.n_query)
        k = c.k_shot
        return TaskBatch(x[:, :, :k].flatten(1, 2), labels[:, :, :k].flatten(1, 2),
                         x[:, :, k:].flatten(1, 2), labels[:, :, k:].flatten(1, 2))

    def target_pool(self, n, generator):
        test = self.classes["test"]
        classes = test[torch.randint(len(test), (n,), generator=generator)]
        return self.render(classes, 1, True, generator)[:, 0]


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(BlobsShift)
