"""Measures of a generator that any generator plugin can use: Fréchet distance, classification accuracy score, grids.

Why a classifier of our own instead of Inception: the benchmarks are offline and small (digits, glyphs), ImageNet
features mean little on 16×16 grey glyphs, and nothing may be downloaded. So the feature space is that of a small
classifier trained on real samples of the very domain being judged (``train_classifier``), as Heusel et al.'s FID
uses Inception's pool features; the *classification accuracy score* (Ravuri & Vinyals 2019) trains the same kind of
classifier on generated samples only and tests it on real ones: it rewards samples that are both of the right class
and varied enough to generalise from.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}) of two feature sets ``[N, F]``, ``[M, F]``.

    Computed in float64 with symmetric eigendecompositions (the trace of (Σ_a Σ_b)^{1/2} equals that of the
    symmetric form above), so it is exact up to rounding and never complex. Needs at least 2 rows in each set.
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least 2 samples in each set")
    a, b = a.detach().double().flatten(1), b.detach().double().flatten(1)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    vals, vecs = torch.linalg.eigh(cov_a)
    root_a = vecs @ torch.diag(vals.clamp_min(0).sqrt()) @ vecs.T
    middle = root_a @ cov_b @ root_a
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    return float((mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross)


class SmallClassifier(nn.Module):
    """Two conv blocks (images) or a hidden layer (vectors), then a ``feature_dim`` layer and a linear head."""

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, width: int = 32, feature_dim: int = 64):
        super().__init__()
        if len(input_shape) == 3:
            c, h, w = input_shape
            self.body = nn.Sequential(
                nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(),
            )
            flat = 2 * width * (h // 4) * (w // 4)
        else:
            flat = math.prod(input_shape)
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(flat, 4 * width), nn.ReLU())
            flat = 4 * width
        self.embed = nn.Sequential(nn.Linear(flat, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train_classifier(x: torch.Tensor, y: torch.Tensor, n_classes: int, steps: int = 300, lr: float = 1e-3,
                     batch_size: int = 64, seed: int = 0) -> SmallClassifier:
    """A ``SmallClassifier`` trained with Adam on (``x``, ``y``) for ``steps`` minibatch steps; returned in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallClassifier(tuple(x.shape[1:]), n_classes).to(x.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        pick = torch.randint(len(x), (min(batch_size, len(x)),), generator=gen).to(x.device)
        loss = F.cross_entropy(model(x[pick]), y[pick])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return model.eval()


@torch.no_grad()
def predict_features(model: SmallClassifier, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    return torch.cat([model.features(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


@torch.no_grad()
def correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Per-sample correctness (1.0 / 0.0) of ``model``'s predictions, so callers can put a CI on the accuracy."""
    logits = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    return (logits.argmax(-1) == y).float()


def classification_accuracy_score(generated_x: torch.Tensor, generated_y: torch.Tensor, real_x: torch.Tensor,
                                  real_y: torch.Tensor, n_classes: int, steps: int = 300,
                                  seed: int = 0) -> torch.Tensor:
    """Train a classifier on generated samples only, test it on real ones: per-real-sample correctness ``[M]``."""
    model = train_classifier(generated_x, generated_y, n_classes, steps=steps, seed=seed)
    return correct(model, real_x, real_y)


def save_image_grid(rows: list[torch.Tensor], path: str | Path, low: float = 0.0, high: float = 1.0,
                    pad: int = 1, scale: int = 2) -> Path:
    """Write images as a PNG grid, one row per tensor ``[n, C, H, W]`` (C = 1 or 3), values mapped from [low, high].

    Rows may differ in length; gaps stay dark. Each pixel is drawn ``scale`` times larger so small images are visible.
    """
    from PIL import Image

    if not rows:
        raise ValueError("no rows to draw")
    c, h, w = rows[0].shape[1:]
    n_cols = max(len(r) for r in rows)
    canvas = torch.zeros(c, len(rows) * (h + pad) + pad, n_cols * (w + pad) + pad)
    for i, row in enumerate(rows):
        for j, img in enumerate(row.detach().float().cpu()):
            top, left = pad + i * (h + pad), pad + j * (w + pad)
            canvas[:, top:top + h, left:left + w] = ((img - low) / (high - low)).clamp(0, 1)
    pixels = (canvas * 255).round().to(torch.uint8).repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    array = pixels[0].numpy() if c == 1 else pixels.permute(1, 2, 0).numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path
