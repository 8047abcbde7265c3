"""Kernel MMD: align source and target features by shrinking the distance between their kernel mean embeddings.

It fills the adversary slot without being adversarial: the slot takes any loss on (source, target) features, and
this one has no parameters and no min-max game, only a statistic the features are trained to reduce.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

import metareg


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``[N, M]`` ‖x_i − y_j‖², expanded as ‖x‖² + ‖y‖² − 2 x·y: smooth at zero distance, where the gradient of
    ``cdist`` (a square root) is not."""
    return (x.pow(2).sum(-1, keepdim=True) + y.pow(2).sum(-1) - 2 * x @ y.T).clamp_min(0)


def median_heuristic(pooled: torch.Tensor) -> torch.Tensor:
    """The median squared distance between distinct samples of ``pooled [N, F]``, detached, at least 1e-12."""
    d2 = squared_distances(pooled, pooled)
    off_diagonal = d2[~torch.eye(len(pooled), dtype=torch.bool, device=pooled.device)]
    return off_diagonal.detach().median().clamp_min(1e-12)


def multi_kernel(x: torch.Tensor, y: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """``[N, M]`` mean over widths w of exp(−‖x_i − y_j‖² / w): a sum of Gaussian kernels, itself a kernel."""
    return torch.exp(-squared_distances(x, y).unsqueeze(-1) / widths).mean(-1)


def mmd2(source: torch.Tensor, target: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """The biased (V-statistic) estimate of squared MMD: mean K(s, s') + mean K(t, t') − 2 mean K(s, t).

    It is the squared distance between the two samples' mean embeddings in the kernel's feature space, so it is
    never negative and is exactly zero when the two samples are the same set.
    """
    return (multi_kernel(source, source, widths).mean() + multi_kernel(target, target, widths).mean()
            - 2 * multi_kernel(source, target, widths).mean())


class MMD(metareg.Adversary):
    """Multi-kernel maximum mean discrepancy between source and target features, weighted, added to the meta-loss.

    The kernel is the mean of Gaussian kernels exp(−d² / w) with widths w = m · h, for each multiplier m in
    ``width_multipliers`` and h the median squared distance between the batch's pooled features (the median
    heuristic, recomputed per batch and not differentiated). The loss is ``weight`` · MMD²_b, the biased estimate
    (Gretton et al. 2012, Eq. 5), whose gradient pulls the two feature distributions together. Minimising it needs
    no discriminator, so the engine's one optimiser and one backward pass serve as they are.

    Config:
        weight: multiplies MMD² in the loss (the trade-off λ of DDC/DAN).
        width_multipliers: kernel widths as multiples of the median heuristic (DAN uses a family of 2^k widths).

    References:
        Gretton, Borgwardt, Rasch, Schölkopf, Smola. "A Kernel Two-Sample Test". JMLR 2012. Lemma 6 and Eq. 5
        (MMD² from kernel means; the biased estimate). Long, Cao, Wang, Jordan. "Learning Transferable Features with
        Deep Adaptation Networks". ICML 2015. Sec. 3 (multi-kernel MMD as a domain-adaptation loss; DAN learns the
        kernel weights, which are uniform here); Table 1 (Office-31).

    Example:
        metareg bench --learner protonet --benchmark digits-shift --adversary mmd adversary.mmd.weight=0.5
    """

    name = "mmd"

    @dataclass
    class Config:
        weight: float = 1.0
        width_multipliers: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 2.0, 4.0])

    def __init__(self, feature_dim, config):
        super().__init__(feature_dim, config)
        if not config.width_multipliers or min(config.width_multipliers) <= 0:
            raise metareg.ConfigError("adversary.mmd.width_multipliers must be a non-empty list of positive numbers")

    def widths(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        multipliers = torch.tensor(self.config.width_multipliers, dtype=source.dtype, device=source.device)
        return multipliers * median_heuristic(torch.cat([source, target]))

    def forward(self, source, target, progress):
        value = mmd2(source, target, self.widths(source, target))
        return metareg.AdversaryOutput(self.config.weight * value, {"mmd2": value.detach()})


@metareg.hookimpl
def metareg_register_adversaries(register):
    register(MMD)
