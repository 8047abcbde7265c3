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
    from metareg.host.registry import Registry

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
    """metareg's learner with ``vectorize`` forced (vmap, loop or grouped); ``torch.compile`` of the meta-loss.

    With ``chunk``, the meta-batch is backpropagated ``chunk`` tasks at a time as the engine does with
    ``train.task_chunk`` (``metareg.run.chunking.meta_backward``; not compiled); ``chunk="auto"`` chooses it as the
    engine does, by a memory probe on the first batch against ``budget`` (MiB or ``auto``), and keeps the choice
    in ``choice`` for the report; ``threads="auto"`` chooses ``train.chunk_threads`` as the engine does
    (``metareg.run.thread_choice``), before the chunk."""

    def __init__(self, case: Case, vectorize: str, chunk: int | str | None = None, budget: object = "auto",
                 threads: int | str = 1):
        from metareg.errors import MetaregError

        try:
            learner = metareg_learner(case.workload, case.learner, vectorize)
        except MetaregError as exc:
            raise Unsupported(str(exc)) from None
        self.learner = learner.to(device=case.device, dtype=case.dtype)
        self.params = nets.load(self.learner, case.weights)
        self.loss = torch.compile(self._loss) if case.compile else self._loss
        self.chunk, self.budget, self.choice = chunk, budget, None
        #: train.chunk_threads; "cores": as many as torch has intra-op threads (the machine's cores by default);
        #: "auto": chosen on the first batch, as a run does
        self.threads = torch.get_num_threads() if threads == "cores" else threads

    def _loss(self, batch):
        return self.learner.meta_loss(batch).loss

    def backward(self, batch):
        if self.threads == "auto":
            from metareg.run.thread_choice import choose_threads

            self.threads = choose_threads(self.learner, batch, list(self.learner.parameters()),
                                          batch.support_x.device).threads
        if self.chunk == "auto" and self.choice is None:
            from metareg.run.memory_budget import choose_chunk

            self.choice = choose_chunk(self.learner, batch, list(self.learner.parameters()), batch.support_x.device,
                                       self.budget, threads=self.threads)
        if self.chunk is not None:
            from metareg.run.chunking import meta_backward

            chunk = self.choice.chunk if self.chunk == "auto" else self.chunk

            return meta_backward(self.learner, batch, list(self.learner.parameters()), chunk,
                                 threads=self.threads).loss
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
        Implementation("metareg-auto", functools.partial(Metareg, vectorize="auto", chunk="auto", threads="auto"),
                       "metareg as a run does it: vectorize=auto, train.chunk_threads=auto, train.task_chunk=auto "
                       "within --memory-budget"),
        Implementation("metareg-auto-serial", functools.partial(Metareg, vectorize="auto", chunk="auto"),
                       "metareg-auto with train.chunk_threads=1 (the default before auto): one chunk at a time"),
        Implementation("metareg-auto-threads",
                       functools.partial(Metareg, vectorize="auto", chunk="auto", threads="cores"),
                       "metareg-auto with train.chunk_threads = torch's threads: chunks side by side, one core each"),
        Implementation("learn2learn", Learn2LearnMAML, "learn2learn.algorithms.MAML, clone() per task"),
        Implementation("higher", HigherMAML, "higher.innerloop_ctx with a differentiable SGD per task"),
    )
}


def chunked(names: list[str], chunks: tuple[int, ...]) -> dict[str, Implementation]:
    """``IMPL/chunkN`` for each metareg implementation among ``names`` and each N: the same strategy with the
    meta-batch backpropagated N tasks at a time (``--chunks``)."""
    out = {}
    for name in names:
        impl = IMPLEMENTATIONS.get(name)
        if impl is None or not isinstance(impl.build, functools.partial) or impl.build.func is not Metareg:
            continue
        for n in chunks:
            keywords = {**impl.build.keywords, "chunk": n}
            out[f"{name}/chunk{n}"] = Implementation(
                f"{name}/chunk{n}", functools.partial(Metareg, **keywords), f"{impl.summary}, {n} tasks per backward pass")
    return out
