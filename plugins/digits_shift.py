"""Digits with a domain shift: meta-train on the original images, adapt and test on transformed images of new classes."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import metareg
from metareg import POOL_REGIMES, TEST_DOMAINS, TRAIN_DOMAINS, VAL_DOMAINS, split_items
from metareg_plugins.digits import Digits

SHIFTS = ("rotate", "invert", "noise", "blur", "scale")


def shift_images(images: torch.Tensor, shifts: list[str], rotation: float, noise_std: float, blur_sigma: float,
                 scale: float, seed: int) -> torch.Tensor:
    """The target domain: ``images [N, 1, H, W]`` in [0, 1] under each named transform, in order, deterministically."""
    out = images.clone()
    for name in shifts:
        if name in ("rotate", "scale"):
            angle = math.radians(rotation) if name == "rotate" else 0.0
            zoom = 1.0 / scale if name == "scale" else 1.0  # sample a larger area: the digit shrinks
            cos, sin = math.cos(angle) * zoom, math.sin(angle) * zoom
            theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]]).expand(len(out), 2, 3)
            grid = F.affine_grid(theta, list(out.shape), align_corners=False)
            out = F.grid_sample(out, grid, align_corners=False, padding_mode="zeros")
        elif name == "invert":
            out = 1.0 - out
        elif name == "noise":
            noise = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)) * noise_std
            out = (out + noise).clamp(0, 1)
        elif name == "blur":
            radius = max(1, int(3 * blur_sigma))
            x = torch.arange(-radius, radius + 1, dtype=torch.float32)
            kernel = torch.exp(-(x**2) / (2 * blur_sigma**2))
            kernel = kernel / kernel.sum()
            out = F.conv2d(out, kernel.view(1, 1, 1, -1), padding=(0, radius))
            out = F.conv2d(out, kernel.view(1, 1, -1, 1), padding=(radius, 0))
        else:
            raise metareg.ConfigError(f"benchmark.digits-shift.shift: unknown transform {name!r}; use {SHIFTS}")
    return out.clamp(0, 1)


#: the revision of the shared pool that holds as many classes and images as the disjoint one (before it, every
#: image of the training classes: 726 against 444 at the defaults), part of a shared-pool run's identity
SHARED_POOL = "shared-pool=equal"


class DigitsShift(Digits):
    """Cross-domain few-shot digits: source = the original images of the meta-training classes, target = the
    held-out classes under a transform (rotation, inversion, noise, blur, shrinking, or several in order).

    Meta-training and validation episodes are the source domain's (as in ``digits``). Each target class's images
    are split in two (``pool_fraction``): the second part alone forms the target test episodes, so test episodes
    use classes never seen in training. What the unlabelled target pool an adversary sees holds is the ``pool``
    regime:

    - ``disjoint`` (default): the first part, target-domain images of the *test* classes (not their test samples).
      Pool and source share no class, so the domain label is confounded with class identity and marginal
      alignment can erase class information.
    - ``shared``: the meta-training images of the *training* classes under the same transform, the
      cross-platform regime (a labelled catalogue on one platform, unlabelled photos of the same products on
      another) that domain-adversarial theory covers: of each training class a seeded subset of as many images
      as the disjoint pool holds of the test class at its place, so both pools hold the same number of classes
      and images (``SHARED_POOL`` marks the run ids of this revision). No test class reaches the pool. The test
      split is the same in both regimes, and ``pool`` is declared a pool-only setting, so the engine evaluates
      both regimes on the very same episodes.

    Config (beyond ``digits``'):
        shift: the transforms, in order, from rotate, invert, noise, blur, scale.
        rotation: degrees, for rotate.  noise_std: Gaussian noise, for noise.  blur_sigma: pixels, for blur.
        scale: the digit's size relative to the frame, for scale.
        pool_fraction: share of each target class's images kept out of the test episodes (the ``disjoint``
            pool; unused in ``shared``).
        pool: ``disjoint`` or ``shared`` (above).
        test_domain: ``target`` (default) or ``source``: the untransformed images of the very same test samples,
            drawn as the very same episodes (the engine seeds both alike), what the shift costs.
        train_domain: ``source`` (default), ``target`` (the oracle: the training classes' images under the same
            transform, labelled; the ceiling no unsupervised alignment can beat) or ``both`` (each training class's
            original and transformed images). Validation stays on the source domain either way, unless:
        val_domain: ``source`` (default) or ``target``: the validation classes' images under the same transform,
            labelled (``metareg tune --select target-val``, an oracle selection rule).

    Example:
        metareg bench --learner protonet --benchmark digits-shift --adversary dann 'benchmark.digits-shift.shift=[invert]'
    """

    name = "digits-shift"
    pool_only_settings = {"pool": "disjoint"}

    @dataclass
    class Config(Digits.Config):
        shift: list[str] = field(default_factory=lambda: ["rotate"])
        rotation: float = 90.0
        noise_std: float = 0.3
        blur_sigma: float = 1.0
        scale: float = 0.6
        pool_fraction: float = 0.5
        pool: str = "disjoint"
        test_domain: str = "target"
        train_domain: str = "source"
        val_domain: str = "source"

    ranges = {**Digits.ranges, "rotation": metareg.Range.finite(), "noise_std": metareg.Range.at_least(0),
              "blur_sigma": metareg.Range.above(0), "scale": metareg.Range.above(0),
              "pool_fraction": metareg.Range.above(0) & metareg.Range.below(1),
              "shift": metareg.Choice(*SHIFTS), "pool": metareg.Choice(*POOL_REGIMES),
              "test_domain": metareg.Choice(*TEST_DOMAINS), "train_domain": metareg.Choice(*TRAIN_DOMAINS),
              "val_domain": metareg.Choice(*VAL_DOMAINS)}

    @classmethod
    def data_identity(cls, config) -> str:
        """``SHARED_POOL`` for the shared pool: it was cut to the disjoint pool's size after runs on the whole
        training split's images were stored, and those must keep an id of their own."""
        return SHARED_POOL if config.pool == "shared" else ""

    def _inputs_by_split(self):
        """Digits' splits with the test split shifted (``test_domain``), the train split as ``train_domain`` and
        the val split as ``val_domain``;
        splits each test class's images between the test episodes
        and the ``disjoint`` pool, and sets the pool (``indices["pool"]``, ``pool_indices``)."""
        config = self.config
        inputs = super()._inputs_by_split()
        target = shift_images(self.images, list(config.shift), config.rotation, config.noise_std,
                              config.blur_sigma, config.scale, config.split_seed)
        pool_idx, test_idx = {}, {}
        for c, idx in self.indices["test"].items():
            pool_idx[c], test_idx[c] = split_items(idx, [config.pool_fraction, 1 - config.pool_fraction],
                                                   config.split_seed + 100 + c)
        self.indices["test"], self.indices["pool"] = test_idx, pool_idx
        test_images = self.images if config.test_domain == "source" else target
        inputs["test"] = {c: test_images[i] for c, i in test_idx.items()}
        if config.val_domain == "target":
            inputs["val"] = {c: target[i] for c, i in self.indices["val"].items()}
        if config.train_domain != "source":
            inputs["train"] = {c: target[i] if config.train_domain == "target"
                               else torch.cat([self.images[i], target[i]]) for c, i in self.indices["train"].items()}
        pool_source = pool_idx
        if config.pool == "shared":  # as many classes and images as the disjoint pool
            sizes = [len(idx) for _, idx in sorted(pool_idx.items())]
            pool_source = {}
            for (c, idx), size in zip(sorted(self.indices["train"].items()), sizes):
                keep = torch.randperm(len(idx), generator=metareg.torch_generator(config.split_seed, "shared", c))
                pool_source[c] = [idx[i] for i in sorted(keep[:size].tolist())]
        self._pool = target[[i for idx in pool_source.values() for i in idx]]
        #: class -> its rows of ``_pool``, for episode-shaped draws
        self._pool_classes, start = {}, 0
        for c, idx in pool_source.items():
            self._pool_classes[c], start = list(range(start, start + len(idx))), start + len(idx)
        #: the indices (into scikit-learn's digits) whose transformed images make the pool, for the split checks
        self.pool_indices = sorted(i for idx in pool_source.values() for i in idx)
        return inputs

    def target_pool(self, n, generator):
        return self._pool[torch.randint(len(self._pool), (n,), generator=generator)]

    def target_episodes(self, n, size, generator):
        """``n`` episode-shaped draws of the pool, ``n_way`` of its digits each (``metareg.pool_episodes``)."""
        return self._pool[metareg.pool_episodes(self._pool_classes, n, size, self.config.n_way, generator)]


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(DigitsShift)
