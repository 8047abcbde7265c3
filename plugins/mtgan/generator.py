"""MT-GAN's generator contract: a reference-conditioned GAN meta-trained across source domains with Reptile, used to
augment support sets."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

import metareg
from metareg import TaskBatch, seed_hash, torch_generator
from metareg_plugins.mtgan.meta import gan_steps, meta_train
from metareg_plugins.mtgan.nets import GANPair, build_pair, check_input_shape

#: bump when the networks or the training change, so checkpoints of the old code are not reused
CHECKPOINT_FORMAT = 1
#: the Config fields that decide the meta-trained weights (the rest only change how they are used)
META_FIELDS = ("z_dim", "width", "meta_iterations", "meta_batch", "inner_steps", "inner_lr", "meta_step_size",
               "batch_size")


class MTGAN(metareg.Generator):
    """Meta-transfer GAN: a generator G(z, x_ref) and a pair discriminator D(x, x_ref), meta-trained with Reptile
    over the benchmark's source domains so that a few GAN steps on a few samples of a new domain fine-tune them;
    each support set is then enlarged with ``n_aug`` generated samples per class.

    Domains. A meta-training *domain* is one source class (FIGR's choice): the K + Q samples of one class of a
    ``benchmark.sample("train", ...)`` episode. Only the train split is read, so no validation or test class, and
    no target-domain sample, is seen while meta-training; classes stand in for domains because the built-in
    benchmarks' sources are one style each, and a generator that adapts to a new class in a few steps is what a
    test task (new classes, possibly a new style) asks for.

    Objective and networks (``nets``, ``meta``): hinge loss, spectral norm on every discriminator
    layer; real pairs are two samples of one class, fake pairs (G(z, x_ref), x_ref) (DAGAN). Small convnets for
    images (outputs squashed into the value range of the source data), an MLP pair for vectors.

    Outer loop: Reptile, θ ← θ + ε·mean_i(φ_i − θ) over ``meta_batch`` domains per outer step, φ_i = generator and
    discriminator weights after ``inner_steps`` Adam GAN steps on domain i; ε = ``meta_step_size`` annealed
    linearly to 0.

    Augmenting (``augment(batch, split=...)``): with ``adapt_to_task`` a copy of both networks is fine-tuned on
    each task's support set only (``finetune_steps`` GAN steps, pairs within each class), then generates; without
    it the meta-trained weights generate directly. The same holds in every split, so the learner meta-trains on
    support sets made the way its test support sets are made (size, and whether the generator saw the task).
    Earlier code fine-tuned the generator at evaluation only, so the learner met at test a kind of generated
    sample it had never been trained with. Each generated sample carries ``aug_weight`` as its
    ``TaskBatch.support_weight`` (real samples 1), and every built-in learner weighs it: in a support loss, in batch
    norm's statistics and where it pools the support set (ProtoNet's prototype, Versa's class mean: two generated
    samples at weight 0.1 make a sixth of a 1-shot class mean instead of two-thirds of it). The defaults (no
    per-task fine-tuning, weight 0.1) are the best measured; at them the augmentation is roughly neutral, not a gain
    (docs/generator.md).

    Checkpoint: with a results directory (the engine passes the store's folder) the meta-trained weights are saved
    as ``generators/mtgan-<key>.pt``, key = sha256 of the benchmark's class and config, the task spec, the run seed
    and the ``META_FIELDS`` of this config; a later run with the same key loads them instead of meta-training
    (whatever its learner, adversary, ``n_aug`` or fine-tuning settings).

    Config:
        z_dim: noise size.  width: conv channels (images) or hidden units (vectors).
        meta_iterations: Reptile outer steps.  meta_batch: domains (source classes) per outer step.
        inner_steps, inner_lr: Adam GAN steps per domain and their learning rate (β = (0, 0.9)).
        meta_step_size: Reptile's ε at the start (annealed linearly to 0).
        batch_size: pairs per GAN step.
        n_aug: generated samples appended per class to every support set; the default, 4, and
        aug_weight: each generated sample's support weight (real samples weigh 1), the default 0.1, are the best
            mean gain in validation accuracy of ProtoNet and MAML over n_aug 1, 2, 4 x aug_weight 0.1, 0.3, 1 on
            glyph-world's style domains, chosen on validation episodes only (``benchmarks/suites/augment-val.yaml``,
            docs/generator.md; the jitter control was chosen on the same grid).
            0 makes the generated samples count for nothing, in every learner: the run is then the un-augmented
            one (the control that tests/run/test_support_weights.py pins).
        adapt_to_task: fine-tune on each task's support set before generating, in meta-training and evaluation.
        finetune_steps, finetune_lr: that fine-tuning's GAN steps and learning rate.
        augment_meta_train: augment the learner's meta-training batches too (off: the learner trains on real
            support sets only and meets generated samples first at test).

    References:
        Clouâtre & Demers. "FIGR: Few-shot Image Generation with Reptile". arXiv:1901.02199, 2019 (a GAN
        meta-trained with Reptile, one class per task; new classes from 4 samples and 10 steps).
        Antoniou, Storkey, Edwards. "Data Augmentation Generative Adversarial Networks". arXiv:1711.04340, 2017
        (generator conditioned on a sample, pair discriminator).
        Nichol, Achiam, Schulman. "On First-Order Meta-Learning Algorithms". arXiv:1803.02999, 2018.
        Miyato et al. "Spectral Normalization for GANs". ICLR 2018 (hinge loss with spectral norm).

    Example:
        metareg bench --learner protonet --benchmark digits-shift --generator mtgan generator.mtgan.n_aug=4
    """

    name = "mtgan"
    #: a tiny instance for the runtime contract checks (``metareg plugins --check``)
    check_config = {"z_dim": 4, "width": 8, "meta_iterations": 2, "meta_batch": 2, "inner_steps": 2,
                    "batch_size": 8, "finetune_steps": 2}

    @dataclass
    class Config:
        z_dim: int = 16
        width: int = 32
        # 200 outer steps x 3 domains x 5 GAN steps: ~3 min at 16x16 on 2 CPU cores; raise on a GPU
        meta_iterations: int = 200
        meta_batch: int = 3
        inner_steps: int = 5
        inner_lr: float = 0.0005
        meta_step_size: float = 1.0
        batch_size: int = 16
        n_aug: int = 4
        # chosen on validation with n_aug (docs/generator.md); fine-tuning per task in both splits was no better
        # at that weight and 3-6x slower (measured before the choice, on test accuracy)
        aug_weight: float = 0.1
        adapt_to_task: bool = False
        finetune_steps: int = 5
        finetune_lr: float = 0.0005
        augment_meta_train: bool = True

    #: metareg tune's space: the synthetic samples' weight in the support loss (1.0: a real sample's)
    search = {"aug_weight": metareg.Uniform(0.05, 1.0)}
    ranges = {**dict.fromkeys(("z_dim", "width", "meta_batch", "batch_size", "inner_steps"), metareg.Range.at_least(1)),
              **dict.fromkeys(("meta_iterations", "n_aug", "finetune_steps"), metareg.Range.at_least(0)),
              **dict.fromkeys(("inner_lr", "meta_step_size", "finetune_lr"), metareg.Range.above(0)),
              "aug_weight": metareg.Range.at_least(0)}

    def __init__(self, spec, config):
        super().__init__(spec, config)
        if spec.kind != "classification":
            raise metareg.IncompatibleError(
                f"generator 'mtgan' adds generated samples to each class of a support set, so it needs a "
                f"classification benchmark; this one is {spec.kind}; run it without --generator"
            )
        check_input_shape(spec.input_shape, self.name)
        self.model: GANPair | None = None
        self.value_range = (0.0, 1.0)  # of the source data; set by fit, bounds generated images
        self.device = torch.device("cpu")
        self.seed = 0
        self.history: list[dict] = []
        self.checkpoint_path: Path | None = None
        self.loaded_from_checkpoint = False
        self._rngs = metareg.SplitStreams(0, "mtgan", "augment")

    # ------------------------------------------------------------------------------------------------ fitting
    def fit(self, benchmark, device, progress=True, *, checkpoint_dir=None, seed=0):
        """Meta-train on ``benchmark.sample("train", ...)`` classes, or load the checkpoint of the same key."""
        self.device, self.seed = torch.device(device), seed
        self._rngs.reset(seed, "mtgan", "augment")
        episodes = torch_generator(seed, "mtgan", "episodes")
        probe = benchmark.sample("train", 4, episodes)
        key = self.checkpoint_key(benchmark, seed)
        self.checkpoint_path = Path(checkpoint_dir) / "generators" / f"mtgan-{key}.pt" if checkpoint_dir else None
        if self.checkpoint_path is not None and self._load(self.checkpoint_path):
            return
        seen = torch.cat([probe.support_x.flatten(), probe.query_x.flatten()])
        self.value_range = (float(seen.min()), float(seen.max()))
        self.model = self.new_model()
        c = self.config
        rng = torch_generator(seed, "mtgan", "gan")
        bar = _progress(c.meta_iterations, progress, f"mtgan meta-training on {benchmark.name}")
        self.history = meta_train(self.model, lambda n: source_domains(benchmark, n, episodes, self.device),
                                  c.meta_iterations, c.meta_batch, c.inner_steps, c.inner_lr, c.meta_step_size,
                                  c.batch_size, rng, bar)
        bar.close()
        self.loaded_from_checkpoint = False
        if self.checkpoint_path is not None:
            self._save(self.checkpoint_path)

    def new_model(self) -> GANPair:
        """A freshly initialised generator/discriminator pair, the same for the same seed: where meta-training
        starts, and the from-scratch baseline. Image outputs are bounded by the fitted value range."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_hash(self.seed, "mtgan", "init"))
            model = build_pair(tuple(self.spec.input_shape), self.config.z_dim, self.config.width, *self.value_range)
        return model.to(self.device)

    def checkpoint_key(self, benchmark, seed: int) -> str:
        """What decides the meta-trained weights: benchmark class and config, spec, seed, and ``META_FIELDS``."""
        bench_cfg = benchmark.config
        payload = {
            "format": CHECKPOINT_FORMAT,
            "benchmark": f"{type(benchmark).__module__}.{type(benchmark).__qualname__}",
            "benchmark_config": dataclasses.asdict(bench_cfg) if dataclasses.is_dataclass(bench_cfg) else repr(bench_cfg),
            "spec": dataclasses.asdict(self.spec),
            "seed": seed,
            "mtgan": {k: getattr(self.config, k) for k in META_FIELDS},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def _load(self, path: Path) -> bool:
        """Load the checkpoint at ``path``; False when there is none or it is unreadable (then it is rebuilt)."""
        if not path.is_file():
            return False
        try:
            saved = torch.load(path, map_location=self.device, weights_only=True)
            self.value_range = (float(saved["low"]), float(saved["high"]))
            self.model = self.new_model()
            self.model.load_state_dict(saved["model"])
        except Exception:  # a truncated or foreign file: meta-train again and overwrite it
            return False
        self.history, self.loaded_from_checkpoint = saved["history"], True
        return True

    def _save(self, path: Path) -> None:
        """Keep the meta-trained weights for the next run of the same key; a folder that cannot take them (a
        read-only store that ``metareg predict`` reads, a full disk) costs only that reuse, said in a warning."""
        low, high = self.value_range
        buffer = io.BytesIO()
        torch.save({"model": self.model.state_dict(), "low": low, "high": high, "history": self.history}, buffer)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            metareg.write_atomic(path, buffer.getvalue())  # a concurrent run never reads half a file
        except OSError as exc:
            warnings.warn(f"metareg: mtgan's meta-trained weights could not be kept at {path} "
                          f"({exc.strerror or exc}); the next run of the same key meta-trains again",
                          RuntimeWarning, stacklevel=2)

    def get_rng_state(self) -> dict:
        """The augmentation streams' states, per split: what a mid-run checkpoint saves (``metareg.run.checkpoints``)."""
        return self._rngs.get_state()

    def set_rng_state(self, state: dict) -> None:
        self._rngs.set_state(state)

    # ----------------------------------------------------------------------------------------------- augmenting
    def augment(self, batch: TaskBatch, *, split: str = "train") -> TaskBatch:
        """Append ``n_aug`` samples per class to each support set; reads ``support_x`` and ``support_y`` only."""
        c = self.config
        if self.model is None:
            raise RuntimeError("mtgan.augment called before fit; the engine fits the generator first")
        if c.n_aug == 0 or (split == "train" and not c.augment_meta_train):
            return batch
        rng = self._rngs[split]
        adapt = c.adapt_to_task and c.finetune_steps > 0
        new_x, new_y = [], []
        for t in range(len(batch)):
            sx, sy = batch.support_x[t], batch.support_y[t]
            model = self.finetune(sx, sy, rng) if adapt else self.model
            gx, gy = self.generate(model, sx, sy, c.n_aug, rng)
            new_x.append(gx)
            new_y.append(gy)
        generated = torch.stack(new_x)
        return batch.with_appended(generated, torch.stack(new_y), c.aug_weight)

    def finetune(self, x: torch.Tensor, labels: torch.Tensor, rng: torch.Generator, steps: int | None = None,
                 start: GANPair | None = None) -> GANPair:
        """A copy of ``start`` (default: the meta-trained pair) after ``steps`` GAN steps on ``x`` (pairs per class)."""
        model = copy.deepcopy(start if start is not None else self.model)
        steps = self.config.finetune_steps if steps is None else steps
        gan_steps(model, x, labels, steps, self.config.finetune_lr, self.config.batch_size, rng)
        return model

    @torch.no_grad()
    def generate(self, model: GANPair, x: torch.Tensor, labels: torch.Tensor, per_class: int,
                 rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``per_class`` samples for each class in ``labels``, conditioned on that class's samples in turn."""
        idx, out_labels = metareg.per_class_references(labels, per_class)
        ref = x[idx]
        z = torch.randn(len(ref), model.z_dim, generator=rng).to(x.device)
        return model.generator(z, ref).to(x.dtype), out_labels


def source_domains(benchmark, n: int, rng: torch.Generator, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` meta-training domains: each class of ``benchmark.sample("train", ...)`` episodes, support and query pooled.

    Labels are all 0 (one class per domain); only the train split is ever sampled.
    """
    domains: list[tuple[torch.Tensor, torch.Tensor]] = []
    while len(domains) < n:
        batch = benchmark.sample("train", 1, rng)
        sx, sy, qx, qy = batch.support_x[0], batch.support_y[0], batch.query_x[0], batch.query_y[0]
        for cls in torch.unique(sy):
            x = torch.cat([sx[sy == cls], qx[qy == cls]]).to(device)
            domains.append((x, torch.zeros(len(x), dtype=torch.long)))
    return domains[:n]


def _progress(total: int, enabled: bool, description: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=description, unit="it", file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5 if sys.stderr.isatty() else 30)

