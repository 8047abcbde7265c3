"""A seeded camera: clean catalogue renderings of glyphs turned into "phone photographs" of them (``photograph``).

Why. A shop's catalogue shows every product as a clean studio image; its customers photograph the same products
with their phones, tilted, on a cluttered table, under uneven light, out of focus, shaken, noisy and JPEG-compressed.
The labels do not move (the same faces draw the same characters) but every pixel statistic does: a purely low-level
shift, the kind that domain-alignment methods (DANN and its kin) claim to handle by matching feature distributions.
The glyph world's cross-platform domain kind makes that claim testable without a paper's data set: its source is
the clean print renderings of ``render``, its target the same faces and characters passed through this camera.

Conventions are ``render``'s: float32 images ``[N, 1, S, S]`` in [0, 1], ink 1 on background 0, any side ``S >= 8``.
The camera keeps the polarity (ink stays brighter than its surroundings on average), so the shift is the camera's,
not a contrast inversion.

Effects, in the order a camera applies them. ``strength`` in [0, 1] scales every magnitude linearly from none to its
maximum; each image draws its own magnitudes, uniformly between ``FLOOR`` and 1 of ``strength`` times the maximum
(so at full strength every image gets at least a quarter of every effect), and its own directions. Lengths are
fractions of the side, so a 64 px image is photographed like a 28 px one.

1. Perspective warp (the page is not parallel to the sensor): each corner of the image moves by up to
   ``WARP_MAX`` = 0.12 of the side in a random direction; the homography through the four moved corners resamples
   the glyph (``grid_sample``, bilinear, zeros outside).
2. Clutter behind the glyph (the table, other print): bilinear low-frequency noise on a ``BG_CELLS`` x ``BG_CELLS``
   grid (weight ``BG_NOISE_SHARE`` = 0.5) plus ``BG_LINES`` = 3 anti-aliased line segments and ``BG_BLOBS`` = 2
   Gaussian blobs, at a level up to ``BG_MAX`` = 0.5, composited behind the ink (the glyph is its own alpha), so
   the ink, at 1, stays the brightest thing in the picture.
3. Illumination: a linear ramp across the image in a random direction, a shadow on one side (gain down by up to
   ``SHADOW_MAX`` = 0.4) and glare on the other (a screen blend with up to ``GLARE_MAX`` = 0.2, which also lowers
   the contrast there).
4. Blur: defocus, a Gaussian of standard deviation up to ``DEFOCUS_MAX`` = 0.04 of the side (1.1 px at 28), and
   motion, an anti-aliased line kernel up to ``MOTION_MAX`` = 0.15 of the side long (4.2 px at 28) at a random
   angle; per-image kernels applied with a grouped ``conv2d`` (replicated borders).
5. Sensor noise: Gaussian read noise of standard deviation up to ``READ_NOISE_MAX`` = 0.03 and signal-dependent
   shot noise of standard deviation up to ``SHOT_NOISE_MAX`` = 0.05 times the square root of the signal.
6. JPEG: an 8-bit grayscale round trip through Pillow's encoder at quality down to ``JPEG_MIN_QUALITY`` = 30
   (quality ``100 - strength * u * (100 - JPEG_MIN_QUALITY)``, rounded; an image whose quality rounds to 100 is
   neither compressed nor quantised to 8 bits).
The result is clamped to [0, 1].

Determinism. Image i's photograph depends only on ``(images[i], seeds[i], strength)``: each effect draws its
parameters from a generator of its own seeded by ``seed_hash(seeds[i], "camera", effect)`` (so photographing a
subset gives the same rows as photographing the whole, and changing one effect's draws leaves the others alone),
and the draws do not depend on ``strength`` (a stronger camera pushes the same image further the same way).

Not modelled: colour (demosaicing, white balance, chromatic aberration), lens distortion and vignetting, a curved
or folded page, depth-varying focus, over-exposure and tone curves (gamma), the phone's sharpening and denoising,
rolling shutter, occlusion, specular highlights, and framing beyond what the corner jitter does (crops, scale,
large rotations).
"""
from __future__ import annotations

import io
import math
import operator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from metareg import torch_generator

#: every per-image magnitude is uniform between ``FLOOR`` and 1 of ``strength`` times its maximum
FLOOR = 0.25
#: largest corner displacement of the perspective warp, as a fraction of the side
WARP_MAX = 0.12
#: largest background level (the ink is 1); the noise's share of it; the noise grid's cells; lines; blobs
BG_MAX = 0.5
BG_NOISE_SHARE = 0.5
BG_CELLS = 5
BG_LINES = 3
BG_BLOBS = 2
#: line widths and blob standard deviations, fractions of the side; line and blob intensities (of the background)
BG_LINE_WIDTH = (0.02, 0.07)
BG_BLOB_SIGMA = (0.04, 0.12)
BG_FEATURE_INTENSITY = (0.3, 1.0)
#: largest gain lost on the shadowed side, and largest glare (screen-blended) on the lit side
SHADOW_MAX = 0.4
GLARE_MAX = 0.2
#: largest defocus standard deviation and motion length, fractions of the side
DEFOCUS_MAX = 0.04
MOTION_MAX = 0.15
#: largest read-noise standard deviation, and shot-noise standard deviation at signal 1
READ_NOISE_MAX = 0.03
SHOT_NOISE_MAX = 0.05
#: lowest JPEG quality (at strength 1 and the largest draw)
JPEG_MIN_QUALITY = 30
#: bump when any effect or its draws change, so cached photographs (``photos``) are made again
CAMERA_VERSION = 1
#: images photographed per batch: bounds the memory of the clutter step to a few tens of MB at 28 px
CHUNK = 2048

_BG_DRAWS = BG_CELLS * BG_CELLS + 1 + 6 * BG_LINES + 4 * BG_BLOBS


def photograph(images: torch.Tensor, seeds, strength: float = 1.0) -> torch.Tensor:
    """``images`` float32 ``[N, 1, S, S]`` in [0, 1] photographed through the camera (see the module doc), image i
    with ``seeds[i]`` (one int per image: a sequence or a 1-D integer tensor): float32 ``[N, 1, S, S]`` in [0, 1].
    ``strength`` in [0, 1] scales every effect linearly; 0 returns the images unchanged."""
    if not isinstance(strength, (int, float)) or isinstance(strength, bool) or not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
    if (not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1
            or images.shape[2] != images.shape[3] or images.shape[2] < 8 or not images.is_floating_point()):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a float tensor [N, 1, S, S] with S >= 8, got {shape}")
    seeds = _seed_list(seeds, len(images))
    images = images.to(torch.float32)
    if strength == 0:
        return images.clone()
    out = torch.empty(images.shape, dtype=torch.float32)
    for lo in range(0, len(images), CHUNK):
        hi = min(len(images), lo + CHUNK)
        out[lo:hi] = _photograph(images[lo:hi].cpu(), seeds[lo:hi], float(strength))
    return out.to(images.device)


def _seed_list(seeds, n: int) -> list[int]:
    if isinstance(seeds, torch.Tensor):
        if seeds.dim() != 1 or seeds.is_floating_point() or seeds.is_complex() or seeds.dtype == torch.bool:
            raise ValueError(f"seeds must be a 1-D integer tensor, got {seeds.dtype} {tuple(seeds.shape)}")
        seeds = seeds.tolist()
    try:
        seeds = [operator.index(s) for s in seeds]  # numpy ints hash like Python ints; floats are refused
    except TypeError as e:
        raise ValueError(f"seeds must be integers, one per image: {e}") from None
    if len(seeds) != n:
        raise ValueError(f"seeds must hold one int per image: {len(seeds)} seeds for {n} images")
    return seeds


def _draws(seeds: list[int], effect: str, count: int, normal: tuple[int, ...] = ()) -> tuple[torch.Tensor, ...]:
    """Per image, from its own generator ``seed_hash(seed, "camera", effect)``: ``count`` uniforms [n, count], then
    (when ``normal`` is given) standard normals [n, *normal]."""
    uniform, gauss = [], []
    for s in seeds:
        gen = torch_generator(s, "camera", effect)
        uniform.append(torch.rand(count, generator=gen))
        if normal:
            gauss.append(torch.randn(normal, generator=gen))
    return (torch.stack(uniform),) + ((torch.stack(gauss),) if normal else ())


def _magnitude(u: torch.Tensor, strength: float, maximum: float) -> torch.Tensor:
    return strength * maximum * (FLOOR + (1 - FLOOR) * u)


def _span(u: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return bounds[0] + (bounds[1] - bounds[0]) * u


def _coords(s: int, dtype=torch.float32) -> torch.Tensor:
    """Pixel centres in normalised coordinates (``align_corners=False``): [s] in (-1, 1)."""
    return (torch.arange(s, dtype=dtype) * 2 + 1) / s - 1


def _photograph(x: torch.Tensor, seeds: list[int], strength: float) -> torch.Tensor:
    s = x.shape[-1]
    x = _warp(x, _draws(seeds, "warp", 8)[0], strength)
    x = _clutter(x, _draws(seeds, "background", _BG_DRAWS)[0], strength)
    x = _illuminate(x, _draws(seeds, "illumination", 3)[0], strength)
    x = _blur(x, _draws(seeds, "blur", 3)[0], strength)
    u, z = _draws(seeds, "noise", 2, (2, s, s))
    x = _noise(x, u, z, strength)
    return _jpeg(x, _draws(seeds, "jpeg", 1)[0][:, 0], strength)


def _homography(dst: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """[n, 3, 3] homographies taking the 4 points ``dst [4, 2]`` to ``src [n, 4, 2]`` (float64)."""
    n = len(src)
    x, y = dst[:, 0].expand(n, 4), dst[:, 1].expand(n, 4)
    X, Y = src[..., 0], src[..., 1]
    one, zero = torch.ones_like(X), torch.zeros_like(X)
    rows_x = torch.stack([x, y, one, zero, zero, zero, -x * X, -y * X], -1)  # [n, 4, 8]
    rows_y = torch.stack([zero, zero, zero, x, y, one, -x * Y, -y * Y], -1)
    a = torch.stack([rows_x, rows_y], 2).reshape(n, 8, 8)
    b = torch.stack([X, Y], 2).reshape(n, 8, 1)
    h = torch.linalg.solve(a, b).squeeze(-1)
    return torch.cat([h, torch.ones(n, 1, dtype=h.dtype)], 1).view(n, 3, 3)


def _warp(x: torch.Tensor, u: torch.Tensor, strength: float) -> torch.Tensor:
    """Perspective: output corners (the image's) sample from source corners moved by up to ``WARP_MAX``."""
    n, s = len(x), x.shape[-1]
    u = u.double()
    shift = 2 * _magnitude(u[:, :4], strength, WARP_MAX)  # normalised coordinates span 2
    angle = 2 * math.pi * u[:, 4:]
    corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]], dtype=torch.float64)
    src = corners + torch.stack([shift * torch.cos(angle), shift * torch.sin(angle)], -1)
    h = _homography(corners, src)
    c = _coords(s, torch.float64)
    gy, gx = torch.meshgrid(c, c, indexing="ij")
    points = torch.stack([gx, gy, torch.ones_like(gx)], -1).view(1, s * s, 3)
    mapped = points @ h.transpose(1, 2)  # [n, s*s, 3]
    grid = (mapped[..., :2] / mapped[..., 2:]).view(n, s, s, 2).float()
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _clutter(x: torch.Tensor, u: torch.Tensor, strength: float) -> torch.Tensor:
    """Low-frequency noise, lines and blobs behind the glyph, up to ``BG_MAX``; the glyph is its own alpha."""
    n, s = len(x), x.shape[-1]
    k = BG_CELLS * BG_CELLS
    noise = F.interpolate(u[:, :k].view(n, 1, BG_CELLS, BG_CELLS), size=(s, s), mode="bilinear",
                          align_corners=False)
    level = _magnitude(u[:, k], strength, BG_MAX).view(n, 1, 1, 1)
    c = _coords(s)
    py, px = c.view(1, 1, s, 1), c.view(1, 1, 1, s)
    half = s / 2  # pixels per normalised unit
    lines = u[:, k + 1:k + 1 + 6 * BG_LINES].view(n, BG_LINES, 6)
    ax, ay, bx, by = [(2.4 * lines[..., i] - 1.2).view(n, BG_LINES, 1, 1) for i in range(4)]  # may leave the frame
    width = (_span(lines[..., 4], BG_LINE_WIDTH) * s).view(n, BG_LINES, 1, 1)
    dx, dy = bx - ax, by - ay
    t = (((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy).clamp_min(1e-6)).clamp(0, 1)
    dist = torch.hypot(px - ax - t * dx, py - ay - t * dy) * half
    line = (width / 2 + 0.5 - dist).clamp(0, 1) * _span(lines[..., 5], BG_FEATURE_INTENSITY).view(n, BG_LINES, 1, 1)
    blobs = u[:, k + 1 + 6 * BG_LINES:].view(n, BG_BLOBS, 4)
    cx, cy = [(2 * blobs[..., i] - 1).view(n, BG_BLOBS, 1, 1) for i in range(2)]
    sigma = (2 * _span(blobs[..., 2], BG_BLOB_SIGMA)).view(n, BG_BLOBS, 1, 1)
    blob = torch.exp(-((px - cx) ** 2 + (py - cy) ** 2) / (2 * sigma * sigma))
    blob = blob * _span(blobs[..., 3], BG_FEATURE_INTENSITY).view(n, BG_BLOBS, 1, 1)
    features = torch.cat([line, blob], 1).amax(1, keepdim=True)
    background = level * (BG_NOISE_SHARE * noise + features).clamp(0, 1)
    alpha = x.clamp(0, 1)
    return x + (1 - alpha) * background


def _illuminate(x: torch.Tensor, u: torch.Tensor, strength: float) -> torch.Tensor:
    """A linear ramp: shadow (gain down by up to ``SHADOW_MAX``) on one side, glare (up to ``GLARE_MAX``, screen
    blended) on the other."""
    n, s = len(x), x.shape[-1]
    angle = (2 * math.pi * u[:, 0]).view(n, 1, 1, 1)
    c = _coords(s)
    ramp = (torch.cos(angle) * c.view(1, 1, 1, s) + torch.sin(angle) * c.view(1, 1, s, 1)) / math.sqrt(2)
    t = (1 + ramp) / 2  # 0 on the lit side, 1 on the shadowed side
    shadow = _magnitude(u[:, 1], strength, SHADOW_MAX).view(n, 1, 1, 1)
    glare = _magnitude(u[:, 2], strength, GLARE_MAX).view(n, 1, 1, 1) * (1 - t)
    lit = x * (1 - shadow * t)
    return lit + glare * (1 - lit)


def _blur_radius(s: int) -> int:
    """The kernels' radius in pixels: enough for the largest defocus and motion at strength 1 (depends on S only,
    so an image's kernel does not depend on its batch)."""
    return max(1, math.ceil(max(3 * DEFOCUS_MAX * s, MOTION_MAX * s / 2 + 1)))


def _grouped(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """``x [n, 1, H, W]`` convolved with ``kernels [n, kh, kw]`` (odd sizes), one per image, replicated borders."""
    n, kh, kw = kernels.shape
    padded = F.pad(x.view(1, n, *x.shape[-2:]), (kw // 2, kw // 2, kh // 2, kh // 2), mode="replicate")
    return F.conv2d(padded, kernels.unsqueeze(1), groups=n).view(x.shape)


def _blur(x: torch.Tensor, u: torch.Tensor, strength: float) -> torch.Tensor:
    """Defocus (separable Gaussian, sd up to ``DEFOCUS_MAX`` of the side), then motion (a line up to
    ``MOTION_MAX`` of the side long at a random angle)."""
    n, s = len(x), x.shape[-1]
    r = _blur_radius(s)
    o = torch.arange(-r, r + 1, dtype=torch.float64)
    u = u.double()
    sigma = (_magnitude(u[:, 0], strength, DEFOCUS_MAX) * s).clamp_min(1e-3).view(n, 1)
    g = torch.exp(-o.view(1, -1) ** 2 / (2 * sigma * sigma))
    g = (g / g.sum(1, keepdim=True)).float()
    x = _grouped(_grouped(x, g.view(n, 1, -1)), g.view(n, -1, 1))
    length = (_magnitude(u[:, 1], strength, MOTION_MAX) * s).view(n, 1, 1)
    angle = (math.pi * u[:, 2]).view(n, 1, 1)
    dx, dy = torch.cos(angle) * length / 2, torch.sin(angle) * length / 2  # half the segment, centred
    ox, oy = o.view(1, 1, -1), o.view(1, -1, 1)
    t = ((ox * dx + oy * dy) / (dx * dx + dy * dy).clamp_min(1e-12)).clamp(-1, 1)
    line = (1 - torch.hypot(ox - t * dx, oy - t * dy)).clamp_min(0)
    line = (line / line.sum((1, 2), keepdim=True)).float()
    return _grouped(x, line)


def _noise(x: torch.Tensor, u: torch.Tensor, z: torch.Tensor, strength: float) -> torch.Tensor:
    """Read noise (sd up to ``READ_NOISE_MAX``) plus shot noise (sd up to ``SHOT_NOISE_MAX`` times sqrt(signal))."""
    n = len(x)
    x = x.clamp(0, 1)
    read = _magnitude(u[:, 0], strength, READ_NOISE_MAX).view(n, 1, 1, 1)
    shot = _magnitude(u[:, 1], strength, SHOT_NOISE_MAX).view(n, 1, 1, 1)
    return (x + read * z[:, :1] + shot * x.sqrt() * z[:, 1:]).clamp(0, 1)


def _jpeg(x: torch.Tensor, u: torch.Tensor, strength: float) -> torch.Tensor:
    """An 8-bit grayscale JPEG round trip per image at quality down to ``JPEG_MIN_QUALITY``."""
    quality = torch.round(100 - _magnitude(u.double(), strength, 100 - JPEG_MIN_QUALITY)).int().tolist()
    pixels = x.squeeze(1).mul(255).round().to(torch.uint8).numpy()
    out = x.clone()
    for i, q in enumerate(quality):
        if q >= 100:
            continue
        buffer = io.BytesIO()
        Image.fromarray(pixels[i]).save(buffer, format="JPEG", quality=q)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out[i, 0] = torch.from_numpy(np.asarray(decoded.convert("L"), dtype=np.float32) / 255)
    return out.clamp(0, 1)
