"""The cross-domain benchmarks: disjoint splits, a pool of unlabelled target inputs, and no target label in training."""
from __future__ import annotations

import torch

from metareg.toolkit.tasks import torch_generator
from metareg_plugins.digits_shift import DigitsShift, shift_images
from metareg_plugins.sinusoid_shift import SinusoidShift


def _keys(t: torch.Tensor) -> set[bytes]:
    """One key per image of a tensor [..., C, H, W]."""
    return {row.numpy().tobytes() for row in t.reshape(-1, t.shape[-3] * t.shape[-2] * t.shape[-1])}


def test_digits_shift_splits_and_pool_are_disjoint():
    bench = DigitsShift(DigitsShift.Config())
    idx = {s: set().union(*map(set, d.values())) for s, d in bench.indices.items()}
    for a in idx:
        for b in idx:
            if a != b:
                assert not idx[a] & idx[b], (a, b)
    assert set(bench.indices["pool"]) == set(bench.indices["test"])  # the pool is of the target classes
    assert not set(bench.indices["train"]) & set(bench.indices["test"])


def test_training_sees_only_source_images_and_the_pool_only_unlabelled_target_inputs():
    bench = DigitsShift(DigitsShift.Config(shift=["invert"]))
    source_train = _keys(torch.cat([bench.images[i] for i in bench.indices["train"].values()]))
    target_test = _keys(bench.pools["test"].by_class[next(iter(bench.pools["test"].by_class))])
    gen = torch_generator(0, "train")
    for _ in range(5):
        batch = bench.sample("train", 4, gen)
        assert _keys(batch.support_x) | _keys(batch.query_x) <= source_train
    pool = bench.target_pool(200, torch_generator(0, "target"))
    assert isinstance(pool, torch.Tensor) and pool.shape == (200, 1, 28, 28)  # inputs only: no labels handed out
    all_test = set().union(*(_keys(t) for t in bench.pools["test"].by_class.values()))
    assert not _keys(pool) & all_test and target_test
    test = bench.sample("test", 2, torch_generator(0, "test"))
    assert _keys(test.support_x) | _keys(test.query_x) <= all_test


def test_shifts_transform_as_named():
    images = torch.zeros(1, 1, 8, 8)
    images[0, 0, 1, 4] = 1.0  # a dot above the centre
    assert torch.equal(shift_images(images, ["invert"], 0, 0, 1, 1, 0), 1 - images)
    rotated = shift_images(images, ["rotate"], 90.0, 0, 1, 1, 0)
    r, c = divmod(int(rotated.flatten().argmax()), 8)
    assert (r, c) != (1, 4) and rotated.sum() > 0
    noisy = shift_images(images, ["noise"], 0, 0.3, 1, 1, 0)
    assert torch.equal(noisy, shift_images(images, ["noise"], 0, 0.3, 1, 1, 0))  # deterministic
    blurred = shift_images(images, ["blur"], 0, 0, 1.0, 1, 0)
    assert blurred.max() < 1.0 and (blurred > 0).sum() > 1


def test_sinusoid_shift_tests_on_the_shifted_range():
    bench = SinusoidShift(SinusoidShift.Config())
    test = bench.sample("test", 300, torch.Generator().manual_seed(0))
    train = bench.sample("train", 300, torch.Generator().manual_seed(0))
    assert train.query_y.abs().max() <= 5.0 and test.query_y.abs().amax(1).min() > 4.0
    pool = bench.target_pool(10, torch.Generator().manual_seed(0))
    assert pool.shape == (10, 1)


def test_digits_shift_pool_regimes_hold_training_or_other_classes_and_never_test_samples():
    disjoint = DigitsShift(DigitsShift.Config(pool="disjoint", image_size=16))
    shared = DigitsShift(DigitsShift.Config(pool="shared", image_size=16))
    labels = {i: c for split in ("train", "val", "test", "pool") for c, idx in disjoint.indices[split].items()
              for i in idx}
    test_samples = {i for idx in disjoint.indices["test"].values() for i in idx}
    train_classes, test_classes = set(disjoint.indices["train"]), set(disjoint.indices["test"])
    assert {labels[i] for i in shared.pool_indices} == train_classes  # the cross-platform regime
    assert {labels[i] for i in disjoint.pool_indices} <= test_classes  # today's regime
    for bench in (shared, disjoint):
        assert not set(bench.pool_indices) & test_samples
        pool = _keys(bench.target_pool(300, torch_generator(0, "target")))
        all_test = set().union(*(_keys(t) for t in bench.pools["test"].by_class.values()))
        assert not pool & all_test
    g = lambda: torch_generator(0, "test")  # noqa: E731
    assert torch.equal(shared.sample("test", 3, g()).query_x, disjoint.sample("test", 3, g()).query_x)
    # the two pools hold the same number of classes and images, so they differ only in which classes they show
    assert sorted(map(len, shared._pool_classes.values())) == sorted(map(len, disjoint._pool_classes.values()))
    assert DigitsShift.data_identity(shared.config) and not DigitsShift.data_identity(disjoint.config)


def test_an_unknown_pool_regime_names_the_key_and_the_choices():
    import pytest

    import metareg

    with pytest.raises(metareg.ConfigError, match="benchmark.digits-shift.pool must be one of disjoint, shared"):
        DigitsShift(DigitsShift.Config(pool="mixed"))


def test_the_pool_regimes_are_evaluated_on_the_very_same_episodes(registry, monkeypatch):
    """The pool setting changes only what the adversary sees, so the engine must not draw other test episodes."""
    from metareg.run.config import parse_overrides, resolve
    from metareg.run.engine import Run

    seen = {}
    for pool in ("disjoint", "shared"):
        settings = parse_overrides([f"benchmark.digits-shift.pool={pool}", "benchmark.digits-shift.image_size=16",
                                    "backbone.conv4.channels=4", "train.eval_batch_size=3"])
        cfg, selection = resolve(registry, settings, {"learner": "protonet", "benchmark": "digits-shift",
                                                      "device": "cpu"})
        run = Run(cfg, selection, registry)
        batches = []
        monkeypatch.setattr(run.learner, "predict", lambda b, keep=batches: keep.append(b.query_x) or
                            run.learner.__class__.predict(run.learner, b))
        run.evaluate("test", 3)
        seen[pool] = batches[0]
    assert torch.equal(seen["disjoint"], seen["shared"])


def _test_batches(registry, monkeypatch, overrides: list[str], split: str = "test"):
    """The query batch the engine evaluates first on ``split`` of digits-shift with ``overrides``."""
    from metareg.run.config import parse_overrides, resolve
    from metareg.run.engine import Run

    settings = parse_overrides([*overrides, "benchmark.digits-shift.image_size=16", "backbone.conv4.channels=4",
                                "train.eval_batch_size=3"])
    cfg, selection = resolve(registry, settings, {"learner": "protonet", "benchmark": "digits-shift", "device": "cpu"})
    run = Run(cfg, selection, registry)
    batches = []
    monkeypatch.setattr(run.learner, "predict", lambda b, keep=batches: keep.append(b.query_x) or
                        run.learner.__class__.predict(run.learner, b))
    run.evaluate(split, 3)
    return batches[0]


def test_source_test_episodes_are_the_target_episodes_before_the_transform(registry, monkeypatch):
    """test_domain=source: the engine draws the very same samples, untransformed: what the shift costs."""
    target = _test_batches(registry, monkeypatch, [])
    source = _test_batches(registry, monkeypatch, ["benchmark.digits-shift.test_domain=source"])
    assert not torch.equal(source, target)
    shifted = shift_images(source.reshape(-1, *source.shape[-3:]), ["rotate"], 90.0, 0.3, 1.0, 0.6, 0)
    torch.testing.assert_close(shifted.reshape(target.shape), target)


def test_the_oracle_trains_on_transformed_training_images_and_is_tested_on_the_baseline_episodes(registry,
                                                                                                  monkeypatch):
    oracle = ["benchmark.digits-shift.train_domain=target"]
    for split in ("val", "test"):
        assert torch.equal(_test_batches(registry, monkeypatch, [], split),
                           _test_batches(registry, monkeypatch, oracle, split))
    bench = DigitsShift(DigitsShift.Config(train_domain="target", shift=["invert"]))
    both = DigitsShift(DigitsShift.Config(train_domain="both", shift=["invert"]))
    for c, idx in bench.indices["train"].items():
        assert torch.equal(bench.pools["train"].by_class[c], 1 - bench.images[idx])
        assert torch.equal(both.pools["train"].by_class[c], torch.cat([bench.images[idx], 1 - bench.images[idx]]))


def test_target_validation_episodes_are_the_source_ones_transformed_and_leave_train_and_test_alone(registry,
                                                                                                   monkeypatch):
    """val_domain=target (metareg tune --select target-val): the very same validation samples, under the shift."""
    target_val = ["benchmark.digits-shift.val_domain=target"]
    source = _test_batches(registry, monkeypatch, [], "val")
    shifted = shift_images(source.reshape(-1, *source.shape[-3:]), ["rotate"], 90.0, 0.3, 1.0, 0.6, 0)
    torch.testing.assert_close(_test_batches(registry, monkeypatch, target_val, "val"), shifted.reshape(source.shape))
    assert torch.equal(_test_batches(registry, monkeypatch, [], "test"),
                       _test_batches(registry, monkeypatch, target_val, "test"))
    plain, validated = DigitsShift(DigitsShift.Config()), DigitsShift(DigitsShift.Config(val_domain="target"))
    for c in plain.indices["train"]:
        assert torch.equal(plain.pools["train"].by_class[c], validated.pools["train"].by_class[c])


def test_domain_settings_at_their_defaults_leave_the_run_identity_as_it_was(registry):
    """Declaring test_domain and train_domain kept every stored run id: at the defaults they are not hashed."""
    from metareg.run.config import config_hash, identity, parse_overrides, resolve

    def resolved(*overrides):
        return resolve(registry, parse_overrides(list(overrides)), {"learner": "protonet", "benchmark": "digits-shift"})

    payload = identity(*resolved())
    assert not {"test_domain", "train_domain", "val_domain"} & set(payload["config"]["benchmark"]["digits-shift"])
    plain = config_hash(*resolved())
    assert plain == config_hash(*resolved("benchmark.digits-shift.test_domain=target",
                                          "benchmark.digits-shift.train_domain=source",
                                          "benchmark.digits-shift.val_domain=source"))
    assert len({plain, config_hash(*resolved("benchmark.digits-shift.test_domain=source")),
                config_hash(*resolved("benchmark.digits-shift.train_domain=target"))}) == 3
