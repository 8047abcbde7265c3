"""class-gaussian: enlarge each support set with samples of a per-class Gaussian whose spread is learnt on sources."""
from __future__ import annotations

from dataclasses import dataclass

import torch

import metareg


def within_class_variance(x: torch.Tensor, y: torch.Tensor,
                          n_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per class, the mean ``[T, N, *shape]`` and unbiased variance of ``x [T, S, *shape]`` labelled ``y [T, S]``,
    and the count ``[T, N]``; the variance is 0 for a class with fewer than two samples."""
    one_hot = torch.nn.functional.one_hot(y, n_classes).to(x.dtype)  # [T, S, N]
    count = one_hot.sum(1)  # [T, N]
    flat = x.flatten(2)  # [T, S, D]
    mean = one_hot.transpose(1, 2) @ flat / count.clamp_min(1).unsqueeze(-1)
    centred = flat.unsqueeze(1) - mean.unsqueeze(2)  # [T, N, S, D]
    squares = (one_hot.transpose(1, 2).unsqueeze(-1) * centred.pow(2)).sum(2)
    variance = squares / (count - 1).clamp_min(1).unsqueeze(-1)
    shape = (*mean.shape[:2], *x.shape[2:])
    return mean.view(shape), variance.view(shape), count


class ClassGaussian(metareg.Generator):
    """Each class of a support set becomes a diagonal Gaussian — mean: its support samples' mean; variance: a prior
    learnt on the source tasks, shrunk towards the class's own variance when it has several shots — and
    ``n_per_class`` samples drawn from it are appended to the support set.

    ``fit`` estimates the prior variance σ²₀ of every input element (pixel) as the within-class variance pooled
    over ``fit_tasks`` meta-training episodes (support and query samples of each class). For a class with k support
    samples of variance s², the variance used is ((k − 1)·s² + ν·σ²₀) / (k − 1 + ν), ν = ``prior_strength``: with one
    shot it is the prior, with many it approaches the class's own. Samples are mean + ``scale``·σ·ε with
    ε ~ N(0, I) from torch's global generator (which the engine seeds per run), not clamped to the data's range.
    ``augment`` reads the support set only, and expects every class of it to have a sample (N-way K-shot support
    sets do). Classification only (the Gaussians are per class). ``fit`` reads ``fit_tasks`` episodes of the
    train split, drawn with the run's seed.

    Config:
        n_per_class: generated samples per class and task.
        fit_tasks: meta-training episodes the prior is estimated from.
        prior_strength: ν, how many pseudo-observations the prior variance is worth.
        scale: multiplies the standard deviation of the generated samples.

    References:
        Yang, Liu, Xu. "Free Lunch for Few-shot Learning: Distribution Calibration". ICLR 2021. Sec. 3 (calibrate a
        novel class's Gaussian with base-class statistics, then sample from it to enlarge the support set); they
        work in feature space with full covariances and Tukey's transform, this is the idea in input space with a
        diagonal covariance and one pooled prior. Murphy, "Conjugate Bayesian analysis of the Gaussian
        distribution" (2007), Sec. 4 (the shrinkage of the variance estimate towards a prior).

    Example:
        metareg bench --learner protonet --benchmark blobs-shift --generator class-gaussian
    """

    name = "class-gaussian"

    @dataclass
    class Config:
        n_per_class: int = 2
        fit_tasks: int = 64
        prior_strength: float = 4.0
        scale: float = 1.0

    check_config = {"fit_tasks": 4}

    def __init__(self, spec, config):
        super().__init__(spec, config)
        if spec.kind != "classification":
            raise metareg.IncompatibleError("generator 'class-gaussian' draws samples per class, so it needs a "
                                            "classification benchmark; run this one without --generator")
        if config.n_per_class < 1 or config.fit_tasks < 1 or config.prior_strength <= 0 or config.scale < 0:
            raise metareg.ConfigError("generator.class-gaussian: n_per_class and fit_tasks must be >= 1, "
                                      "prior_strength > 0 and scale >= 0")
        self.prior_variance: torch.Tensor | None = None

    def fit(self, benchmark, device, progress=True, *, seed=0):
        generator = torch.Generator().manual_seed(seed)
        batch = benchmark.sample("train", self.config.fit_tasks, generator)
        x = torch.cat([batch.support_x, batch.query_x], 1)
        y = torch.cat([batch.support_y, batch.query_y], 1)
        _, variance, count = within_class_variance(x, y, self.spec.n_outputs)
        weight = (count - 1).clamp_min(0).view(*count.shape, *[1] * (variance.dim() - 2))
        self.prior_variance = ((weight * variance).sum((0, 1)) / weight.sum().clamp_min(1)).to(device)

    def augment(self, batch):
        if self.prior_variance is None:
            raise RuntimeError("class-gaussian: augment before fit; the engine fits generators first")
        c, n = self.config, self.spec.n_outputs
        mean, variance, count = within_class_variance(batch.support_x, batch.support_y, n)
        own = (count - 1).clamp_min(0).view(*count.shape, *[1] * (variance.dim() - 2))
        prior = self.prior_variance.to(variance.dtype)
        shrunk = (own * variance + c.prior_strength * prior) / (own + c.prior_strength)
        draws = torch.randn((*mean.shape[:2], c.n_per_class, *mean.shape[2:]), dtype=mean.dtype, device=mean.device)
        new_x = mean.unsqueeze(2) + c.scale * shrunk.sqrt().unsqueeze(2) * draws  # [T, N, n, *shape]
        new_y = torch.arange(n, device=batch.support_y.device).repeat_interleave(c.n_per_class)
        return batch.with_support(torch.cat([batch.support_x, new_x.flatten(1, 2)], 1),
                                  torch.cat([batch.support_y, new_y.expand(len(batch), -1)], 1))


@metareg.hookimpl
def metareg_register_generators(register):
    register(ClassGaussian)
