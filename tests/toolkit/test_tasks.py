"""Episodes and splits: disjoint classes and images, seeded, and the N-way K-shot shape they promise."""
from __future__ import annotations

import torch

from metareg import ClassPool, split_items, torch_generator
from metareg_plugins.digits import Digits
from metareg_plugins.sinusoid import Sinusoid


def test_digits_splits_share_no_class_and_no_image():
    bench = Digits(Digits.Config())
    idx = {split: {c: set(i) for c, i in by_class.items()} for split, by_class in bench.indices.items()}
    assert set(idx["train"]) == set(idx["val"]) and not set(idx["train"]) & set(idx["test"])
    flat = {split: set().union(*by_class.values()) for split, by_class in idx.items()}
    assert not flat["train"] & flat["val"] and not flat["train"] & flat["test"] and not flat["val"] & flat["test"]
    assert len(flat["train"] | flat["val"] | flat["test"]) == 1797  # every image is in exactly one split
    for c in idx["train"]:
        assert len(idx["val"][c]) == round(0.2 * (len(idx["train"][c]) + len(idx["val"][c])))


def test_episodes_have_the_promised_shape_and_relabelled_classes():
    bench = Digits(Digits.Config(n_way=5, k_shot=2, n_query=3))
    batch = bench.sample("test", 4, torch_generator(0, "test"))
    assert batch.support_x.shape == (4, 10, 1, 28, 28) and batch.query_x.shape == (4, 15, 1, 28, 28)
    assert torch.equal(batch.support_y[0], torch.arange(5).repeat_interleave(2))
    assert 0.0 <= batch.support_x.min() and batch.support_x.max() <= 1.0
    again = bench.sample("test", 4, torch_generator(0, "test"))
    assert torch.equal(batch.query_x, again.query_x)  # seeded


def test_support_and_query_of_an_episode_are_different_images():
    pool = ClassPool({c: torch.arange(20.0).view(20, 1) + 100 * c for c in range(3)})
    batch = pool.episodes(8, 3, 4, 5, torch.Generator().manual_seed(1))
    for t in range(8):
        assert not set(batch.support_x[t].flatten().tolist()) & set(batch.query_x[t].flatten().tolist())
        for label in range(3):  # every label maps to one class within an episode
            classes = {int(v) // 100 for v in batch.support_x[t][batch.support_y[t] == label].flatten()}
            classes |= {int(v) // 100 for v in batch.query_x[t][batch.query_y[t] == label].flatten()}
            assert len(classes) == 1


def test_a_lazy_pool_draws_the_episodes_of_a_pool_in_memory_and_loads_only_what_they_use():
    images = {c: torch.arange(30.0).view(10, 3) + 100 * c for c in range(5)}
    loaded = []

    def load(items):
        loaded.append(len(items))
        return torch.stack([images[c][i] for c, i in items])

    lazy = ClassPool({c: [(c, i) for i in range(10)] for c in images}, load=load)
    eager = ClassPool(images)
    a = lazy.episodes(4, 3, 2, 3, torch_generator(7))
    b = eager.episodes(4, 3, 2, 3, torch_generator(7))
    for x, y in ((a.support_x, b.support_x), (a.support_y, b.support_y), (a.query_x, b.query_x),
                 (a.query_y, b.query_y)):
        assert torch.equal(x, y)
    assert loaded == [6, 9] * 4  # one call per task for its support set, one for its queries


def test_split_items_is_disjoint_complete_and_seeded():
    parts = split_items(list(range(10)), [0.5, 0.3, 0.2], seed=3)
    assert sorted(sum(parts, [])) == list(range(10)) and [len(p) for p in parts] == [5, 3, 2]
    assert parts == split_items(list(range(10)), [0.5, 0.3, 0.2], seed=3)
    assert parts != split_items(list(range(10)), [0.5, 0.3, 0.2], seed=4)


def test_sinusoid_tasks_follow_the_maml_distribution():
    bench = Sinusoid(Sinusoid.Config(k_shot=5))
    batch = bench.sample("test", 200, torch.Generator().manual_seed(0))
    assert batch.support_x.shape == (200, 5, 1) and batch.query_x.shape == (200, 100, 1)
    x = torch.cat([batch.support_x, batch.query_x], 1)
    y = torch.cat([batch.support_y, batch.query_y], 1)
    assert x.min() >= -5 and x.max() <= 5
    assert y.abs().max() <= 5.0 and y.abs().amax(1).min() < 1.0  # amplitudes span 0.1 .. 5
    train = bench.sample("train", 3, torch.Generator().manual_seed(0))
    assert train.query_x.shape == (3, 10, 1)
