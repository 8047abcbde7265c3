"""``jitter``: the non-generative control for a generator, warped copies of the real support images themselves."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

import metareg


class Jitter(metareg.Generator):
    """Warped copies of the support set's own images: the non-generative control that a generator must beat.

    It appends ``n_aug`` copies per class of each support set's own images, each under a seeded random affine warp,
    an elastic distortion and pixel noise, at support weight ``aug_weight``: MT-GAN's interface (``n_aug``,
    ``aug_weight``, ``augment_meta_train``), without a model. ``n_aug`` and ``aug_weight`` were chosen on
    validation episodes alone, on the same grid as MT-GAN's (``benchmarks/suites/augment-val.yaml``,
    docs/generator.md), so the control is tuned exactly as much as the generator it controls for.

    Why: a generator's gain is only a gain if cheap augmentation does not give it too. Jitter needs no fitting and
    adds no information about the target domain: every copy is a perturbation of a real support sample. So a
    generator that beats "none" but not "jitter" has shown that extra support samples help, not that it
    synthesised anything.

    Each class's copies cycle over its support images (as MT-GAN's references do). A copy is drawn on a sampling
    grid: an affine map (rotation in ±``rotation`` degrees, scale in 1 ± ``scale``, shift in ± ``shift`` of the
    side), plus an elastic displacement field (Simard, Steinkraus, Platt 2003: uniform noise in [-1, 1] per pixel,
    smoothed by a Gaussian of ``elastic_sigma`` pixels and scaled to ``elastic_alpha`` pixels), sampled bilinearly
    with the border extended. Then Gaussian noise of ``noise_std`` is added, and the result is clamped to the
    source data's value range (read in ``fit``). One random stream per split (``metareg.SplitStreams``), seeded by
    the run's seed and kept in the mid-run checkpoint, so a resumed run draws the same copies.

    Simard et al. use σ = 4 and α = 34 on 28-pixel MNIST with a pixel-resolution field. The defaults here (σ = 3,
    α = 2 at 16 to 28 pixels) keep a glyph readable after the affine warp too. These are set by eye on the contact
    sheet, not tuned; ``metareg tune`` is where they would be chosen on validation.

    Config:
        n_aug: copies appended per class to every support set (4: chosen on validation, above).
        aug_weight: each copy's support weight (real samples 1; 0.3: chosen on validation, above).
        rotation: the largest rotation, in degrees.  scale: the largest relative scale change.
        shift: the largest shift, as a fraction of the image side.
        elastic_alpha, elastic_sigma: the elastic field's size and smoothness, in pixels (0 alpha: none).
        noise_std: Gaussian pixel noise added after the warp.
        augment_meta_train: augment meta-training batches too (as MT-GAN does by default).

    Example:
        metareg bench --learner reptile --benchmark digits-shift --generator jitter generator.jitter.n_aug=2
    """

    name = "jitter"
    check_config = {"n_aug": 1}

    @dataclass
    class Config:
        n_aug: int = 4
        aug_weight: float = 0.3
        rotation: float = 15.0
        scale: float = 0.1
        shift: float = 0.1
        elastic_alpha: float = 2.0
        elastic_sigma: float = 3.0
        noise_std: float = 0.05
        augment_meta_train: bool = True

    #: metareg tune's space: the synthetic samples' weight in the support loss, the same as MT-GAN's
    search = {"aug_weight": metareg.Uniform(0.05, 1.0)}
    ranges = {"n_aug": metareg.Range.at_least(0), "aug_weight": metareg.Range.at_least(0),
              **dict.fromkeys(("rotation", "elastic_alpha", "noise_std"), metareg.Range.at_least(0)),
              "scale": metareg.Range.at_least(0) & metareg.Range.below(1),
              "shift": metareg.Range.at_least(0) & metareg.Range.below(1),
              "elastic_sigma": metareg.Range.above(0)}

    def __init__(self, spec, config):
        super().__init__(spec, config)
        if spec.kind != "classification":
            raise metareg.IncompatibleError(
                f"generator 'jitter' appends copies to each class of a support set, so it needs a classification "
                f"benchmark; this one is {spec.kind}; run it without --generator")
        if len(spec.input_shape) != 3 or min(spec.input_shape[1:]) < 4:
            raise metareg.IncompatibleError(
                f"generator 'jitter' warps images [C, H, W] of at least 4x4 pixels; this benchmark's inputs have "
                f"shape {list(spec.input_shape)}; choose an image benchmark, or run without --generator")
        self.value_range = (0.0, 1.0)
        self._streams = metareg.SplitStreams(0, "jitter", "augment")

    def fit(self, benchmark, device, progress=True, *, seed=0):
        """Nothing to learn: the streams are seeded from the run's seed, and the value range is read from source
        episodes (``benchmark.sample("train", ...)`` only) so copies never leave it."""
        self._streams.reset(seed, "jitter", "augment")
        probe = benchmark.sample("train", 4, metareg.torch_generator(seed, "jitter", "range"))
        seen = torch.cat([probe.support_x.flatten(), probe.query_x.flatten()])
        self.value_range = (float(seen.min()), float(seen.max()))

    def get_rng_state(self) -> dict:
        """The augmentation streams' states, per split, for a mid-run checkpoint."""
        return self._streams.get_state()

    def set_rng_state(self, state: dict) -> None:
        self._streams.set_state(state)

    def augment(self, batch, *, split="train"):
        c = self.config
        if c.n_aug == 0 or (split == "train" and not c.augment_meta_train):
            return batch
        rng = self._streams[split]
        refs, labels = [], []
        for t in range(len(batch)):
            idx, y = metareg.per_class_references(batch.support_y[t], c.n_aug)
            refs.append(batch.support_x[t][idx])
            labels.append(y)
        ref = torch.stack(refs)  # [T, G, C, H, W]
        copies = self.warp(ref.flatten(0, 1), rng).view_as(ref)
        return batch.with_appended(copies, torch.stack(labels), c.aug_weight)

    @torch.no_grad()
    def warp(self, images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Jittered copies of ``images [N, C, H, W]``: affine warp plus elastic field, then noise, clamped."""
        c = self.config
        n, _, h, w = images.shape
        u = lambda *shape: torch.rand(*shape, generator=rng, dtype=torch.float64) * 2 - 1  # noqa: E731
        angle = u(n) * math.radians(c.rotation)
        scale = 1 + u(n) * c.scale
        tx, ty = u(n) * 2 * c.shift, u(n) * 2 * c.shift  # normalised coordinates span 2
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)
        if c.elastic_alpha > 0:
            field = _smoothed(u(n, 2, h, w), c.elastic_sigma) * c.elastic_alpha  # pixels
            grid = grid + (field * torch.tensor([2 / w, 2 / h], dtype=field.dtype).view(1, 2, 1, 1)).permute(0, 2, 3, 1)
        noise = torch.randn(images.shape, generator=rng, dtype=torch.float64) * c.noise_std
        out = F.grid_sample(images.double().cpu(), grid, mode="bilinear", padding_mode="border", align_corners=False)
        lo, hi = self.value_range
        return (out + noise).clamp_(lo, hi).to(images.dtype).to(images.device)


def _smoothed(field: torch.Tensor, sigma: float) -> torch.Tensor:
    """``field [N, 2, H, W]`` convolved with a normalised Gaussian of ``sigma`` pixels (separable, zero padding),
    then rescaled so its largest magnitude per image is 1 (Simard et al. normalise the smoothed field)."""
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=field.dtype)
    kernel = torch.exp(-x.pow(2) / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    n, k, h, w = field.shape
    flat = field.reshape(n * k, 1, h, w)
    flat = F.conv2d(flat, kernel.view(1, 1, 1, -1), padding=(0, radius))
    flat = F.conv2d(flat, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    out = flat.reshape(n, k, h, w)
    peak = out.flatten(1).abs().amax(1).clamp_min(1e-12).view(n, 1, 1, 1)
    return out / peak


@metareg.hookimpl
def metareg_register_generators(register):
    register(Jitter)
