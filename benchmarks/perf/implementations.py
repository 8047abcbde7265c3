"""Every implementation the harness can run, by name: metareg's learners per execution strategy and the references.

metareg is driven through its public surface only: the learner and backbone classes the plugin registry finds
(so a third-party replacement would be measured instead), built from their ``Config`` dataclasses, stepped through
``meta_loss(batch).loss``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from benchmarks.perf import nets
from benchmarks.perf.base import Case, Stepper, Unsupported
from benchmarks.perf.references import HigherMAML, Learn2LearnMAML, TorchLoop
from benchmarks.perf.workloads import Workload

#: the reference every other implementation's meta-gradient and speed is compared with
REFERENCE = "torch-loop"


@functools.lru_cache(maxsize=1)
def _registry():
    from metareg.registry import Registry

    return Registry.load(warn=False)


def learner_config(workload: Workload, learner: str, vectorize: str) -> tuple[str, dict]:
    """The metareg plugin name and its config values for harness learner ``learner`` on ``workload``."""
    if learner == "protonet":
        return "protonet", {"vectorize": vectorize}
    values = {"inner_lr": workload.inner_lr[learner], "inner_steps": workload.inner_steps, "vectorize": vectorize}
    if learner in ("maml", "fomaml"):
        return "maml", {**values, "first_order": learner == "fomaml"}
    if learner == "cavia":
        return "cavia", {**values, "context_dim": workload.context_dim}
    return learner, values


def metareg_learner(workload: Workload, learner: str, vectorize: str = "auto") -> torch.nn.Module:
    """metareg's learner for ``learner`` on ``workload``, built the way the engine builds it (fresh weights)."""
    if learner == "protonet" and workload.kind != "classification":
        raise Unsupported("ProtoNet is a classifier; this workload is regression")
    registry = _registry()
    name, values = learner_config(workload, learner, vectorize)
    learner_cls = registry.get("learner", name).cls
    config = learner_cls.Config(**values)
    backbone_cls = registry.get("backbone", workload.backbone).cls
    backbone = backbone_cls(workload.input_shape, backbone_cls.Config(**workload.backbone_config),
                            context_dim=learner_cls.context_size(config))
    return learner_cls(backbone, workload.spec(), config)


def initial_weights(workload: Workload, learner: str, seed: int) -> list[torch.Tensor]:
    """The weights every implementation starts from: metareg's own initialisation under ``seed``."""
    torch.manual_seed(seed)
    return [p.detach().clone() for p in metareg_learner(workload, learner, "loop").parameters()]


class Metareg:
    """metareg's learner with ``vectorize`` forced (vmap, loop or grouped); ``torch.compile`` of the meta-loss."""

    def __init__(self, case: Case, vectorize: str):
        from metareg.errors import MetaregError

        try:
            learner = metareg_learner(case.workload, case.learner, vectorize)
        except MetaregError as exc:
            raise Unsupported(str(exc)) from None
        self.learner = learner.to(device=case.device, dtype=case.dtype)
        self.params = nets.load(self.learner, case.weights)
        self.loss = torch.compile(self._loss) if case.compile else self._loss

    def _loss(self, batch):
        return self.learner.meta_loss(batch).loss

    def backward(self, batch):
        loss = self.loss(batch)
        loss.backward()
        return loss.detach()


@dataclass(frozen=True)
class Implementation:
    name: str
    build: Callable[[Case], Stepper]
    summary: str


IMPLEMENTATIONS = {
    impl.name: impl
    for impl in (
        Implementation(REFERENCE, TorchLoop, "plain PyTorch, one Python iteration per task (the reference)"),
        Implementation("metareg-vmap", functools.partial(Metareg, vectorize="vmap"),
                       "metareg, all tasks as one torch.func.vmap"),
        Implementation("metareg-loop", functools.partial(Metareg, vectorize="loop"),
                       "metareg, the same pure function looped over tasks"),
        Implementation("metareg-grouped", functools.partial(Metareg, vectorize="grouped"),
                       "metareg, per-task weights stacked into grouped convolutions (Conv4)"),
        Implementation("learn2learn", Learn2LearnMAML, "learn2learn.algorithms.MAML, clone() per task"),
        Implementation("higher", HigherMAML, "higher.innerloop_ctx with a differentiable SGD per task"),
    )
}
