"""MT-GAN's networks: a generator G(z, x_ref) that draws a new sample like a reference one, and a pair discriminator.

Why conditioned on a reference (DAGAN, Antoniou et al. 2017): a generator that takes one real sample and a noise
vector can augment *any* class, including classes it never saw, because the class is carried by the reference, not
by a label embedding. The discriminator judges pairs (x, x_ref): a real pair is two samples of the same class, a fake
pair is (G(z, x_ref), x_ref), so the generator is pushed to produce samples that are *different from* but *of the same
class as* the reference, in the look of the domain it was trained or fine-tuned on.

Images get small convnets (a U-Net of two stride-2 levels with skips at half and full resolution; noise enters at
the bottleneck and as a FiLM modulation of the decoder, so it cannot be ignored); vectors get an MLP pair whose generator is residual
(x_ref + MLP(z, x_ref)). Every discriminator layer is spectrally normalised (Miyato et al. 2018), which with the hinge
loss is the stable objective the plugin uses.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import metareg

SLOPE = 0.2  # LeakyReLU slope, as in DCGAN's discriminator


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, SLOPE)


class ConvGenerator(nn.Module):
    """G(z, x_ref) for images ``[C, H, W]``; outputs lie in ``[low, high]`` (the benchmark's value range)."""

    def __init__(self, input_shape: tuple[int, ...], z_dim: int, width: int, low: float = 0.0, high: float = 1.0):
        super().__init__()
        c, h, w = input_shape
        h4, w4 = math.ceil(math.ceil(h / 2) / 2), math.ceil(math.ceil(w / 2) / 2)
        self.bottleneck = (2 * width, h4, w4)
        self.enc1 = nn.Conv2d(c, width, 3, stride=2, padding=1)  # H/2
        self.enc2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)  # H/4
        self.z_map = nn.Linear(z_dim, 2 * width * h4 * w4)
        self.z_film = nn.Linear(z_dim, 2 * width)
        self.dec2 = nn.Conv2d(4 * width, 2 * width, 3, padding=1)
        self.dec1 = nn.Conv2d(3 * width, width, 3, padding=1)
        self.out = nn.Conv2d(width + c, c, 3, padding=1)  # the reference itself as a full-resolution skip
        self.register_buffer("low", torch.tensor(float(low)))
        self.register_buffer("high", torch.tensor(float(high)))

    def forward(self, z: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        e1 = _act(self.enc1(ref))
        e2 = _act(self.enc2(e1))
        zm = _act(self.z_map(z)).view(-1, *self.bottleneck)
        d = _act(self.dec2(torch.cat([e2, zm], 1)))
        d = F.interpolate(d, size=e1.shape[-2:], mode="nearest")
        d = self.dec1(torch.cat([d, e1], 1))
        gamma, beta = self.z_film(z).chunk(2, dim=-1)
        d = _act(d * (1 + gamma[..., None, None]) + beta[..., None, None])
        d = F.interpolate(d, size=ref.shape[-2:], mode="nearest")
        return self.low + (self.high - self.low) * torch.sigmoid(self.out(torch.cat([d, ref], 1)))


class ConvDiscriminator(nn.Module):
    """D(x, x_ref) for images: the pair stacked as channels, three stride-2 convs, mean pooling, a linear score."""

    def __init__(self, input_shape: tuple[int, ...], width: int):
        super().__init__()
        c = input_shape[0]
        self.convs = nn.ModuleList([
            spectral_norm(nn.Conv2d(2 * c, width, 3, stride=2, padding=1)),
            spectral_norm(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)),
            spectral_norm(nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1)),
        ])
        self.score = spectral_norm(nn.Linear(4 * width, 1))

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, ref], 1)
        for conv in self.convs:
            h = _act(conv(h))
        return self.score(h.mean(dim=(2, 3))).squeeze(-1)


class MLPGenerator(nn.Module):
    """G(z, x_ref) = x_ref + MLP([z, x_ref]) for vectors (no value range: vector benchmarks declare none)."""

    def __init__(self, input_shape: tuple[int, ...], z_dim: int, width: int):
        super().__init__()
        d = input_shape[0]
        self.net = nn.Sequential(nn.Linear(z_dim + d, width), nn.LeakyReLU(SLOPE), nn.Linear(width, width),
                                 nn.LeakyReLU(SLOPE), nn.Linear(width, d))

    def forward(self, z: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return ref + self.net(torch.cat([z, ref], -1))


class MLPDiscriminator(nn.Module):
    """D(x, x_ref) for vectors: a spectrally normalised MLP on the concatenated pair."""

    def __init__(self, input_shape: tuple[int, ...], width: int):
        super().__init__()
        d = input_shape[0]
        self.net = nn.Sequential(spectral_norm(nn.Linear(2 * d, width)), nn.LeakyReLU(SLOPE),
                                 spectral_norm(nn.Linear(width, width)), nn.LeakyReLU(SLOPE),
                                 spectral_norm(nn.Linear(width, 1)))

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, ref], -1)).squeeze(-1)


class GANPair(nn.Module):
    """The generator and discriminator as one module, so one state dict (and one Reptile update) covers both."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, z_dim: int):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.z_dim = z_dim


def check_input_shape(input_shape: tuple[int, ...], name: str) -> None:
    """Raise ``IncompatibleError`` unless the inputs are vectors ``[D]`` or images ``[C, H, W]`` of side >= 4."""
    shape = tuple(input_shape)
    if len(shape) == 3 and min(shape[1:]) >= 4:
        return
    if len(shape) == 1:
        return
    raise metareg.IncompatibleError(
        f"generator {name!r} models vectors [D] or images [C, H, W] at least 4x4 pixels; this benchmark's inputs "
        f"have shape {list(shape)}; choose an image or vector benchmark, or run without --generator"
    )


def build_pair(input_shape: tuple[int, ...], z_dim: int, width: int, low: float = 0.0, high: float = 1.0) -> GANPair:
    """Conv pair for images, MLP pair for vectors (``check_input_shape`` first)."""
    if len(input_shape) == 3:
        return GANPair(ConvGenerator(input_shape, z_dim, width, low, high), ConvDiscriminator(input_shape, width),
                       z_dim)
    return GANPair(MLPGenerator(input_shape, z_dim, width), MLPDiscriminator(input_shape, width), z_dim)
