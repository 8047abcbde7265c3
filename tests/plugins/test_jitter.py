"""The ``jitter`` control generator: warped copies of each class's own support images, at ``aug_weight``, seeded
per split and resumable, and usable with any learner like any generator."""
from __future__ import annotations

import dataclasses

import pytest
import torch

import metareg
from metareg_plugins.jitter import Jitter

from helpers.runs import TINY_DIGITS, json_lines

SPEC = metareg.TaskSpec("classification", (1, 16, 16), 3, k_shot=2, n_query=2, n_way=3)


class Blobs:
    """A stand-in benchmark for ``fit``: random images in [0, 1]."""

    def sample(self, split, n, generator):
        assert split == "train"  # a generator reads the source domains only
        x = torch.rand(n, 6, *SPEC.input_shape, generator=generator)
        y = torch.arange(3).repeat(2).expand(n, 6)
        return metareg.TaskBatch(x, y, x.clone(), y.clone())


def _fitted(seed: int = 0, **config) -> Jitter:
    gen = Jitter(SPEC, dataclasses.replace(Jitter.Config(), **config))
    gen.fit(Blobs(), torch.device("cpu"), progress=False, seed=seed)
    return gen


def _batch() -> metareg.TaskBatch:
    g = torch.Generator().manual_seed(5)
    x = torch.zeros(2, 6, *SPEC.input_shape)
    x[:, :, :, 4:12, 4:12] = torch.rand(2, 6, 1, 8, 8, generator=g)  # a distinct blob per sample
    y = torch.arange(3).repeat(2).expand(2, 6).clone()
    return metareg.TaskBatch(x, y, torch.rand(2, 6, *SPEC.input_shape, generator=g), y.clone())


def test_copies_are_appended_per_class_at_aug_weight_and_nothing_real_changes():
    batch = _batch()
    out = _fitted(n_aug=3, aug_weight=0.25).augment(batch, split="test")
    assert out.support_x.shape == (2, 6 + 9, *SPEC.input_shape)
    assert torch.equal(out.support_x[:, :6], batch.support_x) and torch.equal(out.query_x, batch.query_x)
    assert torch.equal(out.support_y[:, 6:], torch.arange(3).repeat_interleave(3).expand(2, 9))
    assert torch.equal(out.support_weight, torch.cat([torch.ones(2, 6), torch.full((2, 9), 0.25)], 1))


def _bumps() -> metareg.TaskBatch:
    """Six smooth bumps far apart on 28 pixels, one per support sample: a warped copy stays nearest its own."""
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centres = [(5, 7), (5, 20), (14, 7), (14, 20), (23, 7), (23, 20)]
    x = torch.stack([torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 4.0 ** 2)) for cy, cx in centres])
    x = x.unsqueeze(1).expand(2, 6, 1, 28, 28).clone()
    y = torch.arange(3).repeat(2).expand(2, 6).clone()
    return metareg.TaskBatch(x, y, x.clone(), y.clone())


def test_each_copy_is_a_perturbation_of_its_own_reference():
    batch = _bumps()
    spec = dataclasses.replace(SPEC, input_shape=(1, 28, 28))
    # a milder warp than the default, so that which image a copy came from is plain to see
    gen = Jitter(spec, Jitter.Config(n_aug=2, rotation=5, shift=0.05, elastic_alpha=1.0))
    gen.fit(Blobs(), torch.device("cpu"), progress=False, seed=0)
    out = gen.augment(batch, split="test")
    for t in range(2):
        real, copies = batch.support_x[t].flatten(1), out.support_x[t, 6:].flatten(1)
        nearest = torch.cdist(copies, real).argmin(1)
        refs, _ = metareg.per_class_references(batch.support_y[t], 2)
        assert torch.equal(nearest, refs)  # closer to the image it was warped from than to any other
        assert bool((copies - real[refs]).abs().amax(1).gt(1e-3).all())  # and not a plain copy of it
        assert float(copies.min()) >= 0.0 and float(copies.max()) <= 1.0  # within the source data's range


def test_copies_are_seeded_per_split_and_a_saved_state_draws_them_again():
    batch = _batch()
    first, second = _fitted(seed=3), _fitted(seed=3)
    assert torch.equal(first.augment(batch, split="test").support_x, second.augment(batch, split="test").support_x)
    assert not torch.equal(first.augment(batch, split="val").support_x, first.augment(batch, split="test").support_x)
    state = first.get_rng_state()
    expected = first.augment(batch, split="test").support_x
    resumed = _fitted(seed=3)
    resumed.set_rng_state(state)
    assert torch.equal(resumed.augment(batch, split="test").support_x, expected)
    assert not torch.equal(_fitted(seed=4).augment(batch, split="test").support_x,
                           _fitted(seed=3).augment(batch, split="test").support_x)


def test_meta_training_batches_are_left_alone_when_asked():
    batch = _batch()
    assert _fitted(augment_meta_train=False).augment(batch, split="train") is batch
    assert _fitted(n_aug=0).augment(batch, split="test") is batch


@pytest.mark.parametrize("spec", [metareg.TaskSpec("regression", (1,), 1, k_shot=5, n_query=5),
                                  metareg.TaskSpec("classification", (8,), 3, k_shot=1, n_query=1, n_way=3)])
def test_a_benchmark_it_cannot_warp_is_refused_with_the_fix(spec):
    with pytest.raises(metareg.IncompatibleError, match="without --generator"):
        Jitter(spec, Jitter.Config())


def test_jitter_runs_with_a_gradient_learner_from_the_command_line(run_cli):
    code, out, err = run_cli("bench", "--learner", "reptile", "--benchmark", "digits", "--generator", "jitter",
                             "--json", "--quiet", *TINY_DIGITS)
    assert code == 0, err
    (row,) = json_lines(out)
    assert row["status"] == "done" and row["parts"]["generator"] == "jitter", row
