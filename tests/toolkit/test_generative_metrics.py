"""The generator metrics: Fréchet distance against an independent matrix-square-root reference, the classification
accuracy score's direction, and the PNG grid's layout."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from metareg.toolkit.generative_metrics import classification_accuracy_score, frechet_distance, save_image_grid


def reference_frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """FID's textbook formula with scipy's general matrix square root of Σ_a Σ_b (not symmetric)."""
    a, b = a.double().numpy(), b.double().numpy()
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def test_frechet_distance_matches_the_textbook_formula():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(300, 4, generator=gen) @ torch.randn(4, 4, generator=gen)
    b = torch.randn(200, 4, generator=gen) * torch.tensor([0.5, 2.0, 1.0, 1.5]) + 1.0
    assert frechet_distance(a, b) == pytest.approx(reference_frechet(a, b), rel=1e-6)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)


def test_frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_a_translated_one():
    x = torch.randn(100, 3, generator=torch.Generator().manual_seed(1))
    assert abs(frechet_distance(x, x)) < 1e-6
    shift = torch.tensor([1.0, -2.0, 0.5])
    assert frechet_distance(x, x + shift) == pytest.approx(float(shift.pow(2).sum()), abs=1e-5)


def test_frechet_distance_needs_two_samples_per_set():
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))


def test_classification_accuracy_score_rewards_right_labels_and_punishes_swapped_ones():
    gen = torch.Generator().manual_seed(2)
    centres = torch.tensor([[3.0, 0.0], [-3.0, 0.0]])
    y = torch.arange(2).repeat_interleave(50)
    generated = centres[y] + 0.5 * torch.randn(100, 2, generator=gen)
    real = centres[y] + 0.5 * torch.randn(100, 2, generator=gen)
    good = classification_accuracy_score(generated, y, real, y, 2, steps=60)
    swapped = classification_accuracy_score(generated, 1 - y, real, y, 2, steps=60)
    assert good.shape == (100,) and good.mean() > 0.95 and swapped.mean() < 0.05


def test_image_grid_is_one_row_per_tensor_with_values_mapped_to_grey_levels(tmp_path):
    from PIL import Image

    rows = [torch.zeros(3, 1, 4, 4), torch.ones(2, 1, 4, 4)]
    path = save_image_grid(rows, tmp_path / "grid.png", low=0.0, high=1.0, pad=1, scale=1)
    image = np.asarray(Image.open(path))
    assert image.shape == (2 * 5 + 1, 3 * 5 + 1)
    assert image[6:10, 1:5].min() == 255 and image[6:10, 11:15].max() == 0  # second row: 2 white, then a gap
    assert image[1:5, 1:5].max() == 0
