"""``metareg.pool_episodes``: target draws shaped as episodes, n_way classes in equal shares."""
from __future__ import annotations

import pytest
import torch

from metareg import pool_episodes


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_each_row_holds_n_way_classes_in_equal_shares_without_repeats_where_a_class_has_enough():
    pool = {c: list(range(10 * c, 10 * c + 10)) for c in range(8)}
    rows = pool_episodes(pool, 6, 15, 5, _gen())
    assert rows.shape == (6, 15)
    for row in rows.tolist():
        classes = [r // 10 for r in row]
        assert sorted(classes.count(c) for c in set(classes)) == [3] * 5
        assert len(set(row)) == 15  # each class holds 10 >= 3: no sample twice
    assert torch.equal(rows, pool_episodes(pool, 6, 15, 5, _gen()))  # seeded
    assert not torch.equal(rows, pool_episodes(pool, 6, 15, 5, _gen(1)))


def test_an_uneven_size_gives_the_first_classes_one_more_and_a_small_class_repeats():
    rows = pool_episodes({"a": [0], "b": [1, 2, 3, 4, 5]}, 3, 5, 2, _gen())
    for row in rows.tolist():
        counts = sorted([sum(r == 0 for r in row), sum(r > 0 for r in row)])
        assert counts == [2, 3]  # 5 over 2 classes; class "a" has one sample, drawn with replacement


def test_fewer_pool_classes_than_n_way_uses_them_all_and_an_empty_pool_is_an_error():
    rows = pool_episodes({0: [0, 1, 2], 1: [3, 4, 5]}, 2, 6, 5, _gen())
    assert all(sorted(r // 3 for r in row) == [0, 0, 0, 1, 1, 1] for row in rows.tolist())
    with pytest.raises(ValueError, match="no class"):
        pool_episodes({0: []}, 1, 4, 2, _gen())
