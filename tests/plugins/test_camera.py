"""glyph-world's camera: seeded, batch-independent "phone photographs" of clean glyph renderings."""
from __future__ import annotations

import pytest
import torch

from metareg_plugins.glyph_world.camera import photograph

SIDE = 28


def _glyphs(n: int = 8, side: int = SIDE) -> torch.Tensor:
    """Synthetic glyphs: a few thick strokes (bars and a diagonal) per image, varied by image, ink 1 on 0."""
    x = torch.zeros(n, 1, side, side)
    c = torch.arange(side, dtype=torch.float32)
    yy, xx = c.view(-1, 1), c.view(1, -1)
    for i in range(n):
        a, b = 5 + i % 4, side - 6 - i % 3
        x[i, 0, a:b, side // 2 - 2:side // 2 + 2] = 1  # a vertical stem
        x[i, 0, a:a + 4, a:b] = 1  # a top bar
        if i % 2:
            x[i, 0, b - 4:b, a:b] = 1  # a bottom bar
        else:
            x[i, 0][((yy - xx).abs() < 2) & (yy > a) & (yy < b)] = 1  # a diagonal
    return x


def test_strength_zero_is_the_identity():
    x = _glyphs()
    assert torch.equal(photograph(x, list(range(len(x))), 0.0), x)


@pytest.mark.parametrize("side", [8, SIDE, 40])
def test_output_has_the_input_shape_float32_dtype_and_unit_range(side):
    x = _glyphs(5, side)
    y = photograph(x, torch.arange(5), 1.0)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert not torch.equal(y, x)


def test_same_seeds_give_identical_output():
    x = _glyphs()
    seeds = [3, 1, 4, 1, 5, 9, 2, 6]
    assert torch.equal(photograph(x, seeds), photograph(x, seeds))


def test_different_seeds_give_different_output():
    x = _glyphs()
    a = photograph(x, list(range(8)))
    b = photograph(x, list(range(100, 108)))
    assert all(not torch.equal(a[i], b[i]) for i in range(len(x)))


def test_a_subset_photographs_like_the_same_rows_of_the_whole_batch():
    x = _glyphs()
    seeds = torch.tensor([11, 12, 13, 14, 15, 16, 17, 18])
    whole = photograph(x, seeds, 0.8)
    assert torch.equal(photograph(x[2:5], seeds[2:5], 0.8), whole[2:5])


def test_an_image_with_the_same_seed_in_another_batch_photographs_the_same():
    x = _glyphs()
    whole = photograph(x, list(range(8)))
    reordered = photograph(x[[5, 0]], [5, 0])
    assert torch.equal(reordered[0], whole[5]) and torch.equal(reordered[1], whole[0])


def test_larger_strength_moves_images_further_from_the_source():
    x = _glyphs()
    seeds = list(range(8))
    weak = (photograph(x, seeds, 0.25) - x).abs().mean()
    strong = (photograph(x, seeds, 1.0) - x).abs().mean()
    assert 0 < weak < strong


def test_the_glyph_stays_brighter_than_the_background_at_full_strength():
    x = _glyphs()
    y = photograph(x, list(range(8)), 1.0)
    ink = x > 0.5
    assert y[ink].mean() > y[~ink].mean()


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan")])
def test_strength_outside_the_unit_interval_raises_naming_it(strength):
    with pytest.raises(ValueError, match="strength"):
        photograph(_glyphs(2), [0, 1], strength)


@pytest.mark.parametrize("shape", [(2, 28, 28), (2, 3, 28, 28), (2, 1, 28, 20), (2, 1, 4, 4)])
def test_a_wrong_image_shape_raises_naming_images(shape):
    with pytest.raises(ValueError, match="images"):
        photograph(torch.zeros(shape), [0, 1])


def test_a_seed_count_that_does_not_match_the_images_raises_naming_seeds():
    with pytest.raises(ValueError, match="seeds"):
        photograph(_glyphs(3), [0, 1])
