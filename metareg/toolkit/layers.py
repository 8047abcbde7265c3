"""Layers that stay exact when a meta-learner runs many tasks at once under ``torch.func.vmap``."""
from __future__ import annotations

import torch
from torch import nn

from metareg.toolkit.sample_weights import current_batch_norm_weights


class TaskBatchNorm(nn.Module):
    """Batch norm with the current batch's statistics only (no running averages), written from mean and variance.

    Why: few-shot learners normalise each task by its own batch (transductive, as the MAML reference code does), and
    under ``vmap`` each task is its own batch. ``torch.nn.functional.batch_norm`` under ``vmap`` was measured on
    torch 2.13 to give second-order meta-gradients ~3% off; this plain formulation matches a per-task loop to
    ~1e-13 in float64 (``tests/plugins/test_maml_gradients.py`` pins that).

    Inside ``metareg.batch_norm_weights(w)`` the statistics are weighted, one weight per sample (a support set's
    generated samples at their ``support_weight``; ``metareg.toolkit.sample_weights`` says why).
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = [0] + list(range(2, x.dim()))
        weights = current_batch_norm_weights()
        if weights is None:
            mean = x.mean(dim=dims, keepdim=True)
            var = (x - mean).pow(2).mean(dim=dims, keepdim=True)
        else:
            mean, var = weighted_moments(x, weights)
        shape = [1, -1] + [1] * (x.dim() - 2)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight.view(shape) + self.bias.view(shape)


def weighted_moments(x: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (biased) variance of ``x [N, C, ...]``, sample n counting ``weights[n]`` times; shaped
    to broadcast against ``x``. A weight of 0 leaves a sample out; weights all 1 give the ordinary moments."""
    if weights.shape != x.shape[:1]:
        raise ValueError(f"batch_norm_weights has {weights.numel()} weights for a batch of {x.shape[0]} "
                         f"samples: set one weight per sample of the batch the backbone normalises")
    dims = [0] + list(range(2, x.dim()))
    w = weights.to(x.dtype).view(-1, *[1] * (x.dim() - 1))
    total = (w.sum() * x[0, 0].numel()).clamp_min(torch.finfo(x.dtype).tiny)
    mean = (w * x).sum(dim=dims, keepdim=True) / total
    var = (w * (x - mean).pow(2)).sum(dim=dims, keepdim=True) / total
    return mean, var


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity forward, gradient multiplied by ``-scale`` backward (Ganin & Lempitsky's gradient-reversal layer).

    Why: it lets one backward pass train a domain discriminator to separate domains while pushing the features
    that feed it to confuse it, so the min-max game needs no second optimiser.
    """
    return _ReverseGradient.apply(x, float(scale))


#: initialisation schemes a part may offer as its ``init`` setting (declared as ``metareg.Choice(*INIT_SCHEMES)``)
INIT_SCHEMES = ("torch", "kaiming")


def kaiming_init(layer: nn.Module, nonlinearity: str, zero_bias: bool = True) -> None:
    """He-uniform weights for the ``nonlinearity`` that follows ``layer`` (``"relu"`` or ``"linear"``), bias zero.

    Why it matters: PyTorch's default for ``nn.Linear``/``nn.Conv2d`` is He-uniform with ``a=√5``, a bound of
    ``1/√fan_in``, which is √6 smaller than He's for ReLU and √3 smaller than for a linear output. A learner whose
    inner step moves a few parameters through many weights (CAVIA's context through FiLM and the head) adapts
    by an amount that scales with those weights, so the reference's initialisation decides how far two inner
    steps get at the start of meta-training.
    """
    nn.init.kaiming_uniform_(layer.weight, nonlinearity=nonlinearity)
    if zero_bias and getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
