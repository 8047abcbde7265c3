"""The skeleton of an episodic image benchmark: class pools split into train, val and test, checked once.

Why one place: digits, glyphs, glyph-world and folder each built their three pools, checked that every split has
``n_way`` classes and that its smallest class holds ``k_shot + n_query`` samples, refused an unknown split in
``sample`` and made the same ``TaskSpec``; those copies had started to differ in their messages. A benchmark now
hands its classes to ``EpisodeSplits`` and delegates ``sample`` to it::

    self.episodes = metareg.EpisodeSplits({"train": train, "val": val, "test": test}, (1, 28, 28), c.n_way,
                                          c.k_shot, c.n_query, key="benchmark.my-images",
                                          fewer_classes="lower n_way", smaller_classes="lower n_query")
    self.spec, self.pools = self.episodes.spec, self.episodes.pools

    def sample(self, split, n_tasks, generator):
        return self.episodes.sample(split, n_tasks, generator)

A bad episode shape is a ``ConfigError`` naming the setting and the fix before anything is trained
(``benchmark.my-images.n_way: the val split has 3 classes, fewer than n_way=5; lower n_way``).
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from metareg.errors import ConfigError
from metareg.toolkit.tasks import SPLITS, ClassPool, TaskBatch, TaskSpec

#: the training protocol of the built-in image benchmarks on a CPU: Conv4 on 28x28 costs ~2 ms per image forward
#: and backward on a 2-core CPU, so 4 episodes per update (ProtoNet's paper uses 1, MAML's 32) and 250 updates; raise
#: both on a GPU (the Omniglot papers: 32 episodes, 60,000 updates). Copy it (``dict(...)``) into ``train_defaults``.
IMAGE_TRAIN_DEFAULTS = {"meta_batch_size": 4, "meta_iterations": 250, "val_every": 50, "outer_lr": 0.001}


class EpisodeSplits:
    """The class pools of a benchmark's three splits and the N-way K-shot shape its episodes are drawn in.

    Arguments:
        by_split: "train", "val" and "test" -> {class: its samples}, a tensor ``[n, *input_shape]`` or, with
            ``load``, a sequence of items (``metareg.ClassPool``).
        input_shape: the shape of one sample, ``(channels, size, size)``.
        n_way, k_shot, n_query: the episode shape (queries per class).
        key: the benchmark's config section, ``benchmark.<name>``, which the errors name.
        fewer_classes: the fix when a split has fewer than ``n_way`` classes (``lower n_way or min_fonts``).
        smaller_classes: the fix when a split's smallest class has fewer than ``k_shot + n_query`` samples.
        samples_key: the setting the second error names (``n_query``, or e.g. ``renderings``).
        load: turns a list of items into samples, for pools over files (``metareg.ClassPool``'s ``load``).

    ``pools`` maps each split to its ``ClassPool``, ``spec`` is the benchmark's ``TaskSpec``.
    """

    def __init__(self, by_split: Mapping[str, Mapping[object, torch.Tensor | Sequence]],
                 input_shape: Sequence[int], n_way: int, k_shot: int, n_query: int, *, key: str,
                 fewer_classes: str, smaller_classes: str, samples_key: str = "n_query",
                 load: Callable[[list], torch.Tensor] | None = None):
        if sorted(by_split) != sorted(SPLITS):
            raise ValueError(f"EpisodeSplits needs the splits {', '.join(SPLITS)}, got {', '.join(by_split)}")
        self.n_way, self.k_shot, self.n_query = n_way, k_shot, n_query
        per_class = k_shot + n_query
        self.pools: dict[str, ClassPool] = {}
        for split in SPLITS:
            classes = by_split[split]
            if len(classes) < n_way:
                raise ConfigError(f"{key}.n_way: the {split} split has {len(classes)} classes, fewer than "
                                  f"n_way={n_way}; {fewer_classes}")
            pool = ClassPool(classes, load=load)
            if pool.smallest_class() < per_class:
                raise ConfigError(f"{key}.{samples_key}: a {split} class has {pool.smallest_class()} samples, fewer "
                                  f"than k_shot + n_query = {per_class}; {smaller_classes}")
            self.pools[split] = pool
        self.spec = TaskSpec("classification", tuple(input_shape), n_way, k_shot, n_query, n_way=n_way)

    def sample(self, split: str, n_tasks: int, generator: torch.Generator) -> TaskBatch:
        """``n_tasks`` episodes of ``split``, every random number drawn from ``generator``."""
        if split not in self.pools:
            raise ValueError(f"unknown split {split!r}; use train, val or test")
        return self.pools[split].episodes(n_tasks, self.n_way, self.k_shot, self.n_query, generator)
