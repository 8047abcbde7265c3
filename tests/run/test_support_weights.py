"""Generated support samples can weigh less than real ones, and the generator makes train and test support sets
the same way (fine-tuned in both splits or in neither)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from metareg.toolkit.functional import class_means
from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import MLP
from metareg_plugins.mtgan import MTGAN
from metareg_plugins.protonet import ProtoNet
from metareg_plugins.versa import Versa

from helpers.gans import TINY_GAN, digits_shift


def test_class_means_are_weighted_means():
    f = torch.tensor([[[0.0], [4.0], [10.0]]])
    y = torch.tensor([[0, 0, 1]])
    w = torch.tensor([[1.0, 0.25, 1.0]])
    means = class_means(f, y, 2, w)
    assert means[0, 0, 0].item() == pytest.approx(0.25 * 4 / 1.25)
    assert means[0, 1, 0].item() == 10.0
    assert torch.equal(class_means(f, y, 2), class_means(f, y, 2, torch.ones(1, 3)))


def _weighted_batch(extra_weight: float) -> tuple[TaskBatch, TaskBatch]:
    g = torch.Generator().manual_seed(0)
    sx, qx = torch.randn(2, 4, 3, generator=g), torch.randn(2, 6, 3, generator=g)
    sy, qy = torch.tensor([[0, 1, 0, 1]] * 2), torch.tensor([[0, 1, 0, 1, 0, 1]] * 2)
    real = TaskBatch(sx[:, :2], sy[:, :2], qx, qy)
    weight = torch.tensor([[1.0, 1.0, extra_weight, extra_weight]] * 2)
    return real, TaskBatch(sx, sy, qx, qy, support_weight=weight)


@pytest.mark.parametrize("cls", [ProtoNet, Versa])
def test_pooling_learners_ignore_a_support_sample_of_weight_zero(cls):
    spec = TaskSpec("classification", (3,), 2, 1, 3, n_way=2)
    torch.manual_seed(0)
    learner = cls(MLP((3,), MLP.Config(hidden=[8])), spec, cls.Config())  # no batch norm: samples are independent
    real, padded = _weighted_batch(0.0)
    _, counted = _weighted_batch(1.0)
    torch.manual_seed(1)
    expected = learner.predict(real)
    torch.manual_seed(1)
    assert torch.allclose(learner.predict(padded), expected, atol=1e-6)
    torch.manual_seed(1)
    assert not torch.allclose(learner.predict(counted), expected, atol=1e-3)


@pytest.fixture(scope="module")
def fitted(registry):
    benchmark = digits_shift(registry)
    gen = MTGAN(benchmark.spec, dataclasses.replace(TINY_GAN, aug_weight=0.25))
    gen.fit(benchmark, torch.device("cpu"), progress=False, seed=0)
    return benchmark, gen


def test_generated_samples_carry_the_aug_weight_and_real_ones_one(fitted):
    benchmark, gen = fitted
    batch = benchmark.sample("train", 2, torch.Generator().manual_seed(0))
    out = gen.augment(batch, split="train")
    real = batch.support_x.shape[1]
    assert out.support_weight.shape == out.support_y.shape
    assert torch.equal(out.support_weight[:, :real], torch.ones(2, real))
    assert torch.equal(out.support_weight[:, real:], torch.full((2, out.support_x.shape[1] - real), 0.25))


@pytest.mark.parametrize("adapt", [True, False])
def test_train_and_test_support_sets_are_made_the_same_way(fitted, monkeypatch, adapt):
    benchmark, gen = fitted
    monkeypatch.setattr(gen, "config", dataclasses.replace(gen.config, adapt_to_task=adapt))
    calls: list[str] = []
    finetune = gen.finetune
    for split in ("train", "test"):
        monkeypatch.setattr(gen, "finetune", lambda *a, split=split, **k: calls.append(split) or finetune(*a, **k))
        gen.augment(benchmark.sample(split, 2, torch.Generator().manual_seed(0)), split=split)
    assert calls == (["train", "train", "test", "test"] if adapt else [])


#: MT-GAN at a few updates, its samples at weight 0, in meta-training and evaluation alike
ZERO_WEIGHT_GAN = [f"generator.mtgan.{k}={v}" for k, v in dict(
    z_dim=4, width=8, meta_iterations=2, meta_batch=2, inner_steps=2, batch_size=8, n_aug=3, finetune_steps=2,
    aug_weight=0, augment_meta_train="true").items()]
SHIFT_RUN = ["train.meta_iterations=3", "train.val_every=0", "train.test_tasks=6", "train.eval_batch_size=3",
             "train.meta_batch_size=2", "benchmark.digits-shift.image_size=16", "benchmark.digits-shift.n_query=2",
             "backbone.conv4.channels=4"]


def test_a_run_with_generated_samples_at_weight_zero_is_the_unaugmented_run(run_cli):
    """MAML (weighted inner loop, batch norm in Conv4) with DANN (which aligns the support features) on
    digits-shift: the same test accuracy and the same logged losses, to float round-off, as without a generator."""
    from helpers.runs import json_lines

    base = ["bench", "--learner", "maml", "--benchmark", "digits-shift", "--adversary", "dann", "--json", "--quiet",
            *SHIFT_RUN]
    code, out, err = run_cli(*base)
    assert code == 0, err
    code, out_gan, err = run_cli(*base, "--generator", "mtgan", *ZERO_WEIGHT_GAN)
    assert code == 0, err
    (plain,), (augmented,) = json_lines(out), json_lines(out_gan)
    assert augmented["parts"]["generator"] == "mtgan" and augmented["status"] == plain["status"] == "done"
    assert augmented["metrics"]["accuracy"]["mean"] == pytest.approx(plain["metrics"]["accuracy"]["mean"], abs=1e-9)
    logged = {k: v for k, v in plain["last_logged"].items() if isinstance(v, float)}
    assert logged and {k: pytest.approx(v, rel=1e-6) for k, v in logged.items()} == \
        {k: augmented["last_logged"][k] for k in logged}
