"""Toy parts of every family: one correct part each, and subclasses that each break exactly one contract clause.

The conformance tests check them; the ``plugins --check`` tests register them from throw-away plugin packages
(``TOY_PLUGIN``), which import them from here."""
from __future__ import annotations

from dataclasses import dataclass
import copy
import random

from torch import nn
import torch
import torch.nn.functional as F

from metareg.host.conformance.probes import ProbeClassification
import metareg


# ---------------------------------------------------------------------------------------------------------------
# toy parts: a correct one per family, then one broken copy per clause
# ---------------------------------------------------------------------------------------------------------------
class ToyBackbone(metareg.Backbone):
    """One linear layer and tanh on the flattened input (and the context, concatenated)."""

    name = "toy-backbone"

    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        size = 1
        for s in self.input_shape:
            size *= s
        self.linear = nn.Linear(size + context_dim, 4)
        self.feature_dim = 4

    def forward(self, x, context=None):
        x = x.flatten(1)
        if self.context_dim:
            c = x.new_zeros(self.context_dim) if context is None else context
            x = torch.cat([x, c.expand(len(x), -1)], 1)
        return torch.tanh(self.linear(x))


class NoFeatureDim(ToyBackbone):
    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        del self.feature_dim


class DoubleFeatures(ToyBackbone):
    def forward(self, x, context=None):
        return super().forward(x, context).double()


class UnusedLayer(ToyBackbone):
    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        self.spare = nn.Linear(2, 2)


class WeightsByReference(ToyBackbone):
    """Reaches its weight through a list it filled at construction, which torch.func cannot substitute."""

    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        self.held = [self.linear.weight]

    def forward(self, x, context=None):
        return torch.tanh(x.flatten(1) @ self.held[0][:, : x.flatten(1).shape[1]].T + self.linear.bias)


class RunningBatchNorm(ToyBackbone):
    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, x, context=None):
        return self.norm(super().forward(x, context))


class PythonScalarScaling(ToyBackbone):
    """Reads a Python number out of its input, which ``vmap`` cannot batch."""

    def forward(self, x, context=None):
        return super().forward(x / (1.0 + x.abs().max().item()), context)


class IgnoresContext(ToyBackbone):
    def forward(self, x, context=None):
        return super().forward(x, None)


class UnseededBackbone(ToyBackbone):
    def __init__(self, input_shape, config, context_dim=0):
        super().__init__(input_shape, config, context_dim)
        with torch.no_grad():
            self.linear.weight.normal_(generator=torch.Generator().manual_seed(random.getrandbits(32)))


class ToyLearner(metareg.MetaLearner):
    """Prototypes with a learnt temperature: negative squared distances to class means, one backbone call per task."""

    name = "toy-learner"
    task_kinds = ("classification",)

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.temperature = nn.Parameter(torch.ones(()))

    def embed(self, batch):
        x = torch.cat([batch.support_x, batch.query_x], 1)
        weight = metareg.with_query_weights(batch.support_weight, batch.query_x.shape[1])
        features = []
        for t in range(len(x)):
            with metareg.batch_norm_weights(None if weight is None else weight[t]):
                features.append(self.backbone(x[t]))
        f = torch.stack(features)
        return f[:, : batch.support_x.shape[1]], f[:, batch.support_x.shape[1]:]

    def logits(self, batch):
        support, query = self.embed(batch)
        prototypes = metareg.class_means(support, batch.support_y, self.spec.n_outputs, batch.support_weight)
        return -self.temperature * torch.cdist(query, prototypes).pow(2)

    def meta_loss(self, batch):
        logits = self.logits(batch)
        return metareg.LearnerOutput(F.cross_entropy(logits.flatten(0, 1), batch.query_y.flatten()))

    def predict(self, batch):
        with torch.no_grad():
            return self.logits(batch)


class CopiesBackbone(ToyLearner):
    def __init__(self, backbone, spec, config):
        super().__init__(copy.deepcopy(backbone), spec, config)


class RawTensorLoss(ToyLearner):
    def meta_loss(self, batch):
        return super().meta_loss(batch).loss


class UnusedHead(ToyLearner):
    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        self.head = nn.Linear(4, 4)


class FlatPredictions(ToyLearner):
    def predict(self, batch):
        return super().predict(batch).flatten(0, 1)


class ReadsQueryTargets(ToyLearner):
    def predict(self, batch):
        return super().predict(batch) + F.one_hot(batch.query_y, self.spec.n_outputs)


class DetachedFeatures(ToyLearner):
    def features(self, x):
        return self.backbone(x).detach()


class UnseededNoise(ToyLearner):
    def predict(self, batch):
        noise = torch.randn(1, generator=torch.Generator().manual_seed(random.getrandbits(32)))
        return super().predict(batch) + noise


class SharedNormalisation(ToyLearner):
    """Scales the features by their spread over the whole meta-batch: each task's result depends on the others."""

    def embed(self, batch):
        support, query = super().embed(batch)
        spread = torch.cat([support, query], 1).std()
        return support / spread, query / spread


class AscendingGradient(ToyLearner):
    """Reports the loss but hands the optimiser the gradient of its negation."""

    def meta_loss(self, batch):
        loss = super().meta_loss(batch).loss
        return metareg.LearnerOutput(2 * loss.detach() - loss)


class ToyAdversary(metareg.Adversary):
    """Squared distance between the mean source and target features, scaled by a learnt weight."""

    name = "toy-adversary"

    def __init__(self, feature_dim, config):
        super().__init__(feature_dim, config)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, source, target, progress):
        gap = (source.mean(0) - target.mean(0)).pow(2).sum()
        return metareg.AdversaryOutput(self.scale * gap, {"gap": gap.detach()})


class PerSampleLoss(ToyAdversary):
    def forward(self, source, target, progress):
        return metareg.AdversaryOutput(source.mean(1) - target.mean())


class DetachedAlignment(ToyAdversary):
    def forward(self, source, target, progress):
        return super().forward(source.detach(), target.detach(), progress)


class UnseededAdversary(ToyAdversary):
    def forward(self, source, target, progress):
        out = super().forward(source, target, progress)
        noise = torch.rand((), generator=torch.Generator().manual_seed(random.getrandbits(32)))
        return metareg.AdversaryOutput(out.loss + noise, out.metrics)


class ToyGenerator(metareg.Generator):
    """Appends one jittered copy of each support sample, with noise scaled by the source data's spread."""

    name = "toy-generator"

    def fit(self, benchmark, device, progress=True):
        self.spread = float(benchmark.sample("train", 4, torch.Generator().manual_seed(0)).support_x.std())

    def augment(self, batch):
        extra = batch.support_x + 0.1 * self.spread * torch.randn_like(batch.support_x)
        return batch.with_support(torch.cat([batch.support_x, extra], 1),
                                  torch.cat([batch.support_y, batch.support_y], 1))


class FitReturnsSelf(ToyGenerator):
    def fit(self, benchmark, device, progress=True):
        super().fit(benchmark, device, progress)
        return self


class ReplacesSupport(ToyGenerator):
    def augment(self, batch):
        out = super().augment(batch)
        return out.with_support(out.support_x.flip(1), out.support_y.flip(1))


class LabelsFromQueries(ToyGenerator):
    def augment(self, batch):
        out = super().augment(batch)
        s = batch.support_y.shape[1]
        labels = out.support_y.clone()
        labels[:, s:] = batch.query_y[:, :1]
        return out.with_support(out.support_x, labels)


class UnseededGenerator(ToyGenerator):
    def augment(self, batch):
        out = super().augment(batch)
        jitter = torch.rand((), generator=torch.Generator().manual_seed(random.getrandbits(32)))
        s = batch.support_x.shape[1]
        return out.with_support(torch.cat([batch.support_x, out.support_x[:, s:] + jitter], 1), out.support_y)


class ToyBenchmark(ProbeClassification):
    """The classification probe, registered under its own name."""

    name = "toy-benchmark"


class WrongKind(ToyBenchmark):
    task_kind = "regression"


class UnknownTrainSetting(ToyBenchmark):
    train_defaults = {"meta_iteratons": 10}


class MissingShots(ToyBenchmark):
    def sample(self, split, n_tasks, generator):
        batch = super().sample(split, n_tasks, generator)
        return batch.with_support(batch.support_x, torch.zeros_like(batch.support_y))


class GlobalRandomness(ToyBenchmark):
    def sample(self, split, n_tasks, generator):
        batch = super().sample(split, n_tasks, generator)
        return batch.with_support(batch.support_x + torch.rand(()), batch.support_y)


class OneSmallDataset(ToyBenchmark):
    """Every split draws from the same 9 fixed inputs."""

    def __init__(self, config):
        super().__init__(config)
        fixed = torch.randn((3, 3, *self.spec.input_shape), generator=torch.Generator().manual_seed(0))
        self.pool = metareg.ClassPool({c: fixed[c] for c in range(3)})

    def sample(self, split, n_tasks, generator):
        return self.pool.episodes(n_tasks, 3, 2, 1, generator)


class PoolFromTestTasks(ToyBenchmark):
    def target_pool(self, n, generator):
        batch = self.sample("test", 2, torch.Generator().manual_seed(2))  # the test split's generator seed
        return torch.cat([batch.support_x, batch.query_x], 1).flatten(0, 1)[:n]


class EpisodesOfTheWrongShape(ToyBenchmark):
    def target_episodes(self, n, size, generator):
        return self.target_pool(n * size, generator)  # flat: not cut into rows of an episode's size


class NeedsPath(ToyBenchmark):
    @dataclass
    class Config:
        input_shape: tuple = (5,)
        path: str = ""

    def __init__(self, config):
        if not config.path:
            raise metareg.ConfigError("benchmark.needs-path.path is not set")
        super().__init__(config)


TOY_PLUGIN = '''
import metareg
from helpers.toys import ToyAdversary, ToyLearner

@metareg.hookimpl
def metareg_register_learners(register):
    register(ToyLearner)

@metareg.hookimpl
def metareg_register_adversaries(register):
    register(ToyAdversary)
'''
