"""Runtime checks of the meta-learner contract, on tiny probe tasks of every task kind the learner declares.

A learner is built on the probe backbone (``probes.ProbeBackbone``), so what is checked is the learner's own code:
what it returns, where its gradients flow, that tasks of a meta-batch stay independent (the property the batched
``vmap`` path relies on), that it is reproducible from a seed, and that a few outer steps lower its loss.
"""
from __future__ import annotations

import copy

import torch

from metareg.host.conformance.clauses import Declined, Finding, Suite, expect
from metareg.host.conformance.probes import (ProbeBackbone, check_output, close, poison_query_targets, probe_batch,
                                        probe_spec, shape_of)
from metareg.host.conformance.settings import part_config
from metareg.host.contracts.learner import LearnerOutput

SUITE = Suite("learner")
SEED = 1234
#: outer steps and learning rate of the train-step check: Adam, the engine's optimiser, a little faster
TRAIN_STEPS, TRAIN_LR = 5, 0.01


class LearnerProbe:
    """One learner class, one task kind: builds instances from a seed and holds the probe batch."""

    def __init__(self, cls: type, kind: str, overrides: dict | None):
        self.cls, self.kind, self.overrides = cls, kind, overrides
        self.spec = probe_spec(kind)
        self.batch = probe_batch(kind, seed=0)
        self.config = None
        self.stochastic = False
        self.given_backbone = None

    def build(self, seed: int = SEED):
        torch.manual_seed(seed)
        backbone = ProbeBackbone(self.spec.input_shape, context_dim=int(self.cls.context_size(self.config)))
        self.given_backbone = backbone
        return self.cls(backbone, self.spec, self.config)

    def loss(self, learner, batch=None, seed: int = SEED) -> torch.Tensor:
        torch.manual_seed(seed)
        return learner.meta_loss(self.batch if batch is None else batch).loss

    def predict(self, learner, batch=None, seed: int = SEED) -> torch.Tensor:
        torch.manual_seed(seed)
        learner.eval()
        try:
            return learner.predict(self.batch if batch is None else batch)
        finally:
            learner.train()


def _grads(learner) -> dict[str, torch.Tensor | None]:
    return {name: (None if p.grad is None else p.grad.detach().clone()) for name, p in learner.named_parameters()}


@SUITE.clause("build", "constructed as cls(backbone, spec, config), it is an nn.Module that keeps the backbone as "
                       "self.backbone and trains it: the backbone's parameters are among parameters()")
def build(probe: LearnerProbe) -> None:
    probe.config = part_config(probe.cls, probe.kind, probe.overrides)
    learner = probe.build()
    expect(isinstance(learner, torch.nn.Module), f"got a {type(learner).__name__}, not an nn.Module")
    expect(getattr(learner, "backbone", None) is probe.given_backbone,
           "self.backbone is not the backbone it was given (the engine and adversaries reach features through it)")
    own = {id(p) for p in learner.parameters()}
    expect(all(id(p) in own for p in learner.backbone.parameters()),
           "some backbone parameters are missing from parameters(), so the outer optimiser never updates them")


@SUITE.clause("meta_loss", "meta_loss(batch) returns a LearnerOutput whose loss is a finite scalar tensor of the "
                           "inputs' dtype and whose metrics map names to scalar tensors")
def meta_loss(probe: LearnerProbe) -> None:
    check_output(probe.build().meta_loss(probe.batch), LearnerOutput, probe.batch.support_x.dtype)


@SUITE.clause("gradients", "meta_loss(batch).loss is differentiable: backward gives every parameter a finite "
                           "gradient and the backbone a non-zero one")
def gradients(probe: LearnerProbe) -> None:
    learner = probe.build()
    loss = probe.loss(learner)
    expect(loss.requires_grad, "the loss does not require grad: it is not connected to the parameters")
    loss.backward()
    grads = _grads(learner)
    missing = [n for n, g in grads.items() if g is None]
    expect(not missing, f"no gradient reached {', '.join(missing[:5])}")
    bad = [n for n, g in grads.items() if not bool(torch.isfinite(g).all())]
    expect(not bad, f"non-finite gradients in {', '.join(bad[:5])}")
    backbone = sum(float(p.grad.abs().sum()) for p in learner.backbone.parameters())
    expect(backbone > 0, "the backbone's gradient is zero everywhere")


@SUITE.clause("predict", "predict(batch) returns finite [tasks, queries, n_outputs] predictions of the inputs' "
                         "dtype and leaves the meta-parameters unchanged")
def predict(probe: LearnerProbe) -> None:
    learner = probe.build()
    before = copy.deepcopy(learner.state_dict())
    out = probe.predict(learner)
    b = probe.batch
    want = (len(b), b.query_x.shape[1], probe.spec.n_outputs)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == want,
           f"returned {shape_of(out)}, expected {list(want)}")
    expect(out.dtype == b.query_x.dtype, f"dtype {out.dtype} differs from the inputs' {b.query_x.dtype}")
    expect(bool(torch.isfinite(out).all()), "predictions contain NaN or inf")
    changed = [k for k, v in learner.state_dict().items() if not torch.equal(v, before[k])]
    expect(not changed, f"predict changed {', '.join(changed[:5])}; adapt a copy, never the meta-parameters")


@SUITE.clause("query_targets", "predict(batch) never reads the query targets: wrong ones give the same predictions")
def query_targets(probe: LearnerProbe) -> None:
    learner = probe.build()
    honest = probe.predict(learner)
    poisoned = probe.predict(learner, poison_query_targets(probe.batch))
    expect(torch.equal(honest, poisoned), "predictions changed when only the query targets did")


@SUITE.clause("features", "features(x) maps x [N, *input_shape] to [N, backbone.feature_dim] features through "
                          "which the backbone receives gradients (what an adversary aligns)")
def features(probe: LearnerProbe) -> None:
    learner = probe.build()
    x = probe.batch.query_x.flatten(0, 1)
    f = learner.features(x)
    want = (x.shape[0], learner.backbone.feature_dim)
    expect(isinstance(f, torch.Tensor) and tuple(f.shape) == want, f"returned {shape_of(f)}, expected {list(want)}")
    f.pow(2).sum().backward()
    backbone = sum(0.0 if p.grad is None else float(p.grad.abs().sum()) for p in learner.backbone.parameters())
    expect(backbone > 0, "no gradient reaches the backbone through features(x)")


@SUITE.clause("deterministic", "built and run twice under the same torch seed, it has the same parameters and gives "
                               "the same meta-loss and predictions")
def deterministic(probe: LearnerProbe) -> None:
    first, second = probe.build(), probe.build()
    a, b = first.state_dict(), second.state_dict()
    expect(all(torch.equal(a[k], b[k]) for k in a), "two instances built from the same seed differ")
    expect(torch.equal(probe.loss(first), probe.loss(second)), "the meta-loss differs between two seeded calls")
    expect(torch.equal(probe.predict(first), probe.predict(second)), "predictions differ between two seeded calls")
    probe.stochastic = not torch.equal(probe.predict(first, seed=SEED + 1), probe.predict(first))


@SUITE.clause("batched", "tasks of a meta-batch are independent: the meta-gradient of a batch is the mean of its "
                         "tasks' meta-gradients, and a task's predictions do not depend on the other tasks")
def batched(probe: LearnerProbe) -> None:
    if probe.stochastic:
        raise Declined("not checked: predictions are random draws (a stochastic learner), so a batch and its tasks "
                       "cannot be compared exactly")
    learner = probe.build()
    together = probe.predict(learner)
    for i in range(len(probe.batch)):
        alone = probe.predict(learner, probe.batch.task(i))[0]
        expect(close(together[i], alone), f"task {i}'s predictions change when other tasks share its batch")
    probe.loss(learner).backward()
    batch_grads = _grads(learner)
    mean: dict[str, torch.Tensor] = {}
    for i in range(len(probe.batch)):
        learner.zero_grad(set_to_none=True)
        probe.loss(learner, probe.batch.task(i)).backward()
        for name, g in _grads(learner).items():
            if g is not None:
                mean[name] = mean.get(name, 0) + g / len(probe.batch)
    for name, g in batch_grads.items():
        if g is None or name not in mean:
            continue
        tolerance = 1e-3 * float(mean[name].norm()) + 1e-6
        expect(float((g - mean[name]).norm()) <= tolerance,
               f"the gradient of {name} for the batch is not the mean of its tasks' gradients")


@SUITE.clause("support_weight", "support samples at support_weight 0 (what a generator adds at aug_weight=0) change "
                                "neither the predictions nor the meta-loss: the support loss, and batch norm's "
                                "statistics, are weighted (metareg.task_loss(..., weight), metareg.batch_norm_weights)")
def support_weight(probe: LearnerProbe) -> None:
    if probe.stochastic:
        raise Declined("not checked: predictions are random draws (a stochastic learner)")
    batch = probe.batch
    extra_x = torch.flip(batch.support_x, dims=[1]) * 2 + 1  # unlike any real sample, labels of the same classes
    extra_y = torch.flip(batch.support_y, dims=[1])
    weight = torch.cat([batch.support_x.new_ones(batch.support_x.shape[:2]),
                        batch.support_x.new_zeros(extra_x.shape[:2])], 1)
    padded = batch.with_support(torch.cat([batch.support_x, extra_x], 1), torch.cat([batch.support_y, extra_y], 1),
                                weight)
    learner = probe.build()
    expect(close(probe.predict(learner), probe.predict(learner, padded)),
           "predictions changed when support samples of weight 0 were added; weigh the support loss by "
           "batch.support_weight (metareg.task_loss(kind, out, y, weight), adapt_tasks(..., weight=)) and run the "
           "support forward pass inside metareg.batch_norm_weights(weight)")
    expect(close(probe.loss(learner), probe.loss(learner, padded)),
           "the meta-loss changed when support samples of weight 0 were added (see TaskBatch.support_weight)")


@SUITE.clause("train_step", f"{TRAIN_STEPS} outer Adam steps (lr {TRAIN_LR}) on one batch lower meta_loss on it")
def train_step(probe: LearnerProbe) -> None:
    learner = probe.build()
    start = probe.loss(learner).item()
    optimiser = torch.optim.Adam(learner.parameters(), lr=TRAIN_LR)
    for step in range(TRAIN_STEPS):
        optimiser.zero_grad(set_to_none=True)
        probe.loss(learner, seed=SEED + step).backward()
        optimiser.step()
    end = probe.loss(learner).item()
    expect(end < start, f"meta_loss went from {start:.6g} to {end:.6g}")


def check(cls: type, overrides: dict | None, report) -> None:
    """Run the suite once per task kind the learner declares (``task_kinds``)."""
    kinds = [k for k in getattr(cls, "task_kinds", ()) if k in ("classification", "regression")]
    if not kinds:
        detail = f"task_kinds is {getattr(cls, 'task_kinds', None)!r}; name 'classification' and/or 'regression'"
        report.failures.append(Finding(SUITE.clauses[0], detail))
        return
    for kind in kinds:
        SUITE.run(LearnerProbe(cls, kind, overrides), report, context=f"on {kind} tasks" if len(kinds) > 1 else "")
