"""Few-shot classification on scikit-learn's bundled handwritten digits (no download), resized for Conv4."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

import metareg
from metareg import EpisodeSplits, split_items


def load_digit_images(image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 8x8 digits shipped inside scikit-learn, scaled to [0, 1] and resized to ``image_size`` pixels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if image_size != 8:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return images.clamp_(0, 1), torch.tensor(data.target)


class Digits(metareg.Benchmark):
    """N-way K-shot episodes from the 10 digit classes: meta-train and meta-test on disjoint classes.

    A seeded split (``split_seed``) gives ``train_classes`` classes to meta-training and the rest to meta-test;
    validation episodes use the meta-training classes but held-out images (``val_fraction`` of each class), so the
    three splits share no image and train/test share no class.

    Config:
        n_way, k_shot, n_query: episode shape (queries per class).
        image_size: side of the resized square images (28 so Conv4 applies, as for Omniglot).
        train_classes: how many of the 10 classes meta-training gets.
        val_fraction: share of each meta-training class's images held out for validation.
        split_seed: the class and image split (fixed across runs so every run is evaluated on the same classes).

    Example:
        metareg bench --learner protonet --benchmark digits benchmark.digits.k_shot=5
    """

    name = "digits"
    task_kind = "classification"
    default_backbone = "conv4"
    train_defaults = dict(metareg.IMAGE_TRAIN_DEFAULTS)

    @dataclass
    class Config:
        n_way: int = 5
        k_shot: int = 1
        n_query: int = 15
        image_size: int = 28
        train_classes: int = 5
        val_fraction: float = 0.2
        split_seed: int = 0

    ranges = {"n_way": metareg.Range.at_least(1), "k_shot": metareg.Range.at_least(1),
              "n_query": metareg.Range.at_least(1), "image_size": metareg.Range.at_least(1),
              "train_classes": metareg.Range.between(1, 9),
              "val_fraction": metareg.Range.above(0) & metareg.Range.below(1), "split_seed": metareg.Range.seed()}

    def __init__(self, config):
        super().__init__(config)
        images, labels = load_digit_images(config.image_size)
        self.images, self.labels = images, labels
        train_cls, test_cls = split_items(list(range(10)), [config.train_classes, 10 - config.train_classes],
                                          config.split_seed)
        #: split -> class -> indices into scikit-learn's digits (kept so the splits can be checked disjoint)
        self.indices: dict[str, dict[int, list[int]]] = {"train": {}, "val": {}, "test": {}}
        for c in train_cls:
            idx = (labels == c).nonzero().flatten().tolist()
            fit, held = split_items(idx, [1 - config.val_fraction, config.val_fraction], config.split_seed + 1 + c)
            self.indices["train"][c], self.indices["val"][c] = fit, held
        for c in test_cls:
            self.indices["test"][c] = (labels == c).nonzero().flatten().tolist()
        size = config.image_size
        self.episodes = EpisodeSplits(self._inputs_by_split(), (1, size, size), config.n_way, config.k_shot,
                                      config.n_query, key="benchmark.digits",
                                      fewer_classes="lower n_way or change train_classes",
                                      smaller_classes="lower n_query or k_shot")
        self.pools, self.spec = self.episodes.pools, self.episodes.spec

    def _inputs_by_split(self) -> dict[str, dict[int, torch.Tensor]]:
        """Split -> class -> its images, what episodes are drawn from (digits-shift shifts the test split's)."""
        return {split: {c: self.images[i] for c, i in by_class.items()} for split, by_class in self.indices.items()}

    def load_inputs(self, paths):
        """Image files as the digits themselves: grayscale with bright ink on a dark background, averaged over
        blocks down to 8x8 (how scikit-learn's digits were made from 32x32 bitmaps), scaled to [0, 1], then resized
        to ``image_size`` as ``load_digit_images`` does."""
        from PIL import Image

        from metareg import open_image

        small = [open_image(p, "L").resize((8, 8), Image.Resampling.BOX) for p in paths]
        images = torch.stack([torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(1, 8, 8)
                              for im in small]).float() / 255.0
        size = self.config.image_size
        if size != 8:
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
        return images.clamp_(0, 1)

    def sample(self, split, n_tasks, generator):
        return self.episodes.sample(split, n_tasks, generator)


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(Digits)
