"""MT-GAN: samples fit the benchmark, the Reptile outer update is its formula, fine-tuning moves the generator to a new
domain, augmentation reads only support sets, meta-training reads only the train split, checkpoints are reused,
and the CLI runs it with a learner and an adversary."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

import metareg
from metareg.run.config import resolve
from metareg.run.engine import Run
from metareg.toolkit.generative_metrics import frechet_distance
from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.mtgan import MTGAN
from metareg_plugins.mtgan.meta import gan_steps, meta_train, pair_indices, reptile_update
from metareg_plugins.mtgan.nets import build_pair

from helpers.runs import TINY_DIGITS
from helpers.gans import TINY_GAN, digits_shift

TINY_GAN_CLI = [f"generator.mtgan.{k}={v}" for k, v in
                dict(z_dim=4, width=8, meta_iterations=2, meta_batch=2, inner_steps=2, batch_size=8, n_aug=2,
                     finetune_steps=2).items()]


@pytest.fixture(scope="module")
def fitted(registry):
    benchmark = digits_shift(registry)
    gen = MTGAN(benchmark.spec, TINY_GAN)
    gen.fit(benchmark, torch.device("cpu"), progress=False, seed=0)
    return benchmark, gen


def test_generated_samples_have_the_benchmarks_shape_and_range(fitted, monkeypatch):
    benchmark, gen = fitted
    batch = benchmark.sample("test", 3, torch.Generator().manual_seed(0))
    for adapt in (False, True):  # without and with fine-tuning on the support set
        monkeypatch.setattr(gen, "config", dataclasses.replace(gen.config, adapt_to_task=adapt))
        out = gen.augment(batch, split="test")
        n_way, k = benchmark.spec.n_way, benchmark.spec.k_shot
        assert out.support_x.shape == (3, n_way * (k + 3), 1, 16, 16)
        assert out.support_y.shape == (3, n_way * (k + 3))
        assert all(torch.bincount(y).tolist() == [k + 3] * n_way for y in out.support_y)
        generated = out.support_x[:, n_way * k:]
        assert torch.isfinite(generated).all() and generated.min() >= 0 and generated.max() <= 1  # digits' range
        assert torch.equal(out.support_x[:, : n_way * k], batch.support_x)  # real samples kept as they were
        assert gen.value_range == (0.0, 1.0)


def test_vector_inputs_get_the_mlp_pair_and_keep_their_shape():
    spec = TaskSpec("classification", (5,), 2, k_shot=2, n_query=1, n_way=2)
    gen = MTGAN(spec, TINY_GAN)
    gen.model = gen.new_model()
    x, y = torch.randn(4, 5), torch.tensor([0, 0, 1, 1])
    gx, gy = gen.generate(gen.model, x, y, 3, torch.Generator().manual_seed(0))
    assert gx.shape == (6, 5) and gy.tolist() == [0, 0, 0, 1, 1, 1]


def test_reptile_update_moves_each_parameter_by_step_size_times_the_mean_difference():
    meta = torch.nn.Linear(3, 2)
    theta = {n: p.detach().clone() for n, p in meta.named_parameters()}
    phis = [{n: t + torch.randn_like(t) for n, t in theta.items()} for _ in range(3)]
    reptile_update(meta, phis, 0.25)
    for name, p in meta.named_parameters():
        expected = theta[name] + 0.25 * ((phis[0][name] + phis[1][name] + phis[2][name]) / 3 - theta[name])
        torch.testing.assert_close(p.detach(), expected)


def test_meta_training_step_is_reptile_over_per_domain_gan_steps():
    """One outer step of ``meta_train`` equals GAN steps on copies followed by θ + ε·mean(φ_i − θ) (ε = 0.5)."""
    torch.manual_seed(0)
    model = build_pair((3,), z_dim=2, width=6)
    domains = [(torch.randn(6, 3), torch.zeros(6, dtype=torch.long)) for _ in range(2)]
    reference = copy.deepcopy(model)
    rng = torch.Generator().manual_seed(1)
    phis = []
    for x, y in domains:
        work = copy.deepcopy(reference)
        gan_steps(work, x, y, 3, 0.01, 4, rng)
        phis.append({n: p.detach().clone() for n, p in work.named_parameters()})
    theta = {n: p.detach().clone() for n, p in reference.named_parameters()}

    meta_train(model, lambda n: domains[:n], iterations=1, meta_batch=2, inner_steps=3, inner_lr=0.01,
               step_size=0.5, batch_size=4, rng=torch.Generator().manual_seed(1))
    for name, p in model.named_parameters():
        expected = theta[name] + 0.5 * ((phis[0][name] + phis[1][name]) / 2 - theta[name])
        torch.testing.assert_close(p.detach(), expected)
    assert any(not torch.equal(p.detach(), theta[n]) for n, p in model.named_parameters())


def test_pairs_are_same_class_and_distinct_unless_a_class_has_one_sample():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    refs, partners = pair_indices(labels, 200, torch.Generator().manual_seed(0))
    assert torch.equal(labels[refs], labels[partners])
    alone = refs == 5
    assert alone.any() and torch.equal(partners[alone], refs[alone])
    assert (partners[~alone] != refs[~alone]).all()


def test_finetuning_moves_the_generator_toward_a_new_domain():
    """Source classes are wide blobs, so the pre-trained generator adds wide noise to a reference; in the new domain
    classes are tight. A short fine-tuning on a few target samples must bring generated samples closer to the
    target's real ones (Fréchet distance on the raw vectors)."""
    gen = torch.Generator().manual_seed(0)
    spec = TaskSpec("classification", (2,), 3, k_shot=8, n_query=1, n_way=3)
    mtgan = MTGAN(spec, MTGAN.Config(z_dim=2, width=32, batch_size=32, finetune_lr=0.005))
    mtgan.model = mtgan.new_model()

    def domain(centres, spread, n):
        x = (centres + spread * torch.randn(len(centres), n, 2, generator=gen)).flatten(0, 1)
        return x, torch.arange(len(centres)).repeat_interleave(n)

    for _ in range(20):  # the source: wide classes around new centres each time
        gan_steps(mtgan.model, *domain(torch.randn(3, 1, 2, generator=gen) * 5, 1.0, 8), 5, 0.005, 32, gen)
    centres = torch.randn(3, 1, 2, generator=gen) * 5
    few_x, few_y = domain(centres, 0.05, 8)
    test_x, _ = domain(centres, 0.05, 200)

    def distance(model):
        gx, _ = mtgan.generate(model, few_x, few_y, 200, torch.Generator().manual_seed(1))
        return frechet_distance(gx, test_x)

    before = distance(mtgan.model)
    after = distance(mtgan.finetune(few_x, few_y, torch.Generator().manual_seed(2), steps=100))
    assert after < 0.5 * before, (before, after)


def test_augmentation_reads_only_the_support_set(fitted):
    benchmark, gen = fitted
    batch = benchmark.sample("test", 2, torch.Generator().manual_seed(3))
    poisoned = TaskBatch(batch.support_x, batch.support_y, torch.full_like(batch.query_x, float("nan")),
                         torch.randint_like(batch.query_y, 0, 5))
    for split in ("train", "test"):
        gen.set_rng_state({})  # fresh streams
        clean = gen.augment(batch, split=split)
        gen.set_rng_state({})  # fresh streams
        dirty = gen.augment(poisoned, split=split)
        assert torch.equal(clean.support_x, dirty.support_x) and torch.equal(clean.support_y, dirty.support_y)
        assert dirty.query_x is poisoned.query_x and dirty.query_y is poisoned.query_y


class SplitSpy:
    """A benchmark proxy that records which splits, and whether the target pool, were read."""

    def __init__(self, benchmark):
        self.inner, self.splits, self.pool_reads = benchmark, [], 0
        self.name, self.config, self.spec = benchmark.name, benchmark.config, benchmark.spec

    def sample(self, split, n_tasks, generator):
        self.splits.append(split)
        return self.inner.sample(split, n_tasks, generator)

    def target_pool(self, n, generator):
        self.pool_reads += 1
        return self.inner.target_pool(n, generator)


def test_meta_training_reads_only_the_train_split(registry):
    spy = SplitSpy(digits_shift(registry))
    MTGAN(spy.spec, TINY_GAN).fit(spy, torch.device("cpu"), progress=False, seed=0)
    assert spy.splits and set(spy.splits) == {"train"} and spy.pool_reads == 0


def test_checkpoint_is_reused_for_the_same_key_only(registry, tmp_path):
    benchmark = digits_shift(registry)
    first = MTGAN(benchmark.spec, TINY_GAN)
    first.fit(benchmark, torch.device("cpu"), progress=False, checkpoint_dir=tmp_path, seed=0)
    assert first.checkpoint_path.is_file() and first.checkpoint_path.parent == tmp_path / "generators"
    assert not first.loaded_from_checkpoint

    usage_only = dataclasses.replace(TINY_GAN, n_aug=5, adapt_to_task=False)  # how samples are used: same weights
    second = MTGAN(benchmark.spec, usage_only)
    second.fit(benchmark, torch.device("cpu"), progress=False, checkpoint_dir=tmp_path, seed=0)
    assert second.loaded_from_checkpoint and second.checkpoint_path == first.checkpoint_path
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)

    assert MTGAN(benchmark.spec, dataclasses.replace(TINY_GAN, inner_lr=0.01)).checkpoint_key(benchmark, 0) != \
        first.checkpoint_key(benchmark, 0)
    assert first.checkpoint_key(benchmark, 1) != first.checkpoint_key(benchmark, 0)
    other = digits_shift(registry, rotation=45.0)
    assert first.checkpoint_key(other, 0) != first.checkpoint_key(benchmark, 0)


def test_an_unreadable_checkpoint_is_meta_trained_again_and_replaced(fitted, tmp_path):
    benchmark, _ = fitted
    gen = MTGAN(benchmark.spec, TINY_GAN)
    path = tmp_path / "generators" / f"mtgan-{gen.checkpoint_key(benchmark, 0)}.pt"
    path.parent.mkdir()
    path.write_bytes(b"not a checkpoint")
    gen.fit(benchmark, torch.device("cpu"), progress=False, checkpoint_dir=tmp_path, seed=0)
    assert not gen.loaded_from_checkpoint and gen.checkpoint_path == path
    assert torch.load(path, weights_only=True)["model"].keys() == gen.model.state_dict().keys()


def test_mtgan_on_a_regression_benchmark_is_a_clear_error(registry):
    cfg, selection = resolve(registry, [], {"learner": "maml", "benchmark": "sinusoid", "generator": "mtgan"})
    with pytest.raises(metareg.IncompatibleError, match="classification benchmark"):
        Run(cfg, selection)


def test_mtgan_on_inputs_it_cannot_model_is_a_clear_error():
    spec = TaskSpec("classification", (4, 4), 2, k_shot=1, n_query=1, n_way=2)
    with pytest.raises(metareg.IncompatibleError, match=r"vectors \[D\] or images"):
        MTGAN(spec, TINY_GAN)


def test_bad_mtgan_settings_name_the_key(run_cli):
    code, _, err = run_cli("bench", "--learner", "protonet", "--benchmark", "digits", "--generator", "mtgan",
                           "generator.mtgan.inner_steps=0")
    assert code == 2 and "generator.mtgan.inner_steps must be at least 1" in err


def test_bench_runs_protonet_with_mtgan_and_dann_and_reuses_the_checkpoint(run_cli, tmp_path):
    args = ["bench", "--learner", "protonet", "--benchmark", "digits-shift", "--generator", "mtgan",
            "--adversary", "dann", "--quiet", "--json",
            *[s.replace("benchmark.digits.", "benchmark.digits-shift.") for s in TINY_DIGITS], *TINY_GAN_CLI]
    code, out, err = run_cli(*args)
    assert code == 0, err
    checkpoints = list((tmp_path / "store" / "generators").glob("mtgan-*.pt"))
    assert len(checkpoints) == 1
    stamp = checkpoints[0].stat().st_mtime_ns
    code, out, err = run_cli(*args, "generator.mtgan.n_aug=1")  # another run, same meta-training settings
    assert code == 0, err
    assert list((tmp_path / "store" / "generators").glob("mtgan-*.pt")) == checkpoints
    assert checkpoints[0].stat().st_mtime_ns == stamp  # loaded, not meta-trained and written again
