"""The implementations metareg is measured against: a plain PyTorch per-task loop, learn2learn's and higher's MAML.

The per-task loop is written here from the papers, sharing no code with metareg (its network is ``nets``): per
task, adapt a copy of the weights with ``torch.autograd.grad`` (graph kept for second order), then back-propagate the
task's query loss. That is the clone-and-adapt style of the best-known libraries, and it is the harness's reference
meta-gradient. learn2learn and higher are optional (``pip install metareg[perf]``); each is used as its own
documentation shows, on ``nets.module``, with the same initial weights and data.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import types

import torch
import torch.nn.functional as F

from benchmarks.perf import nets
from benchmarks.perf.base import Case, Unsupported


def loss_of(kind: str, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, target) if kind == "classification" else F.mse_loss(out, target)


class TorchLoop:
    """The reference: one Python iteration per task, autograd on plain tensors, one backward per task."""

    def __init__(self, case: Case):
        self.case, w = case, case.workload
        self.kind, self.steps = w.kind, w.inner_steps
        self.lr = w.inner_lr.get(case.learner)
        self.params = [t.detach().clone().requires_grad_(True) for t in case.weights]
        self.run = {"maml": self._maml, "fomaml": self._maml, "reptile": self._reptile, "cavia": self._cavia,
                    "protonet": self._protonet}[case.learner]

    def backward(self, batch):
        return self.run(batch)

    def _forward(self, params, x, context=None, head=True):
        return nets.forward(self.case.workload, params, x, context, head)

    def _maml(self, batch):
        first_order = self.case.learner == "fomaml"
        n, total = len(batch), 0.0
        for i in range(n):
            fast = self.params
            for _ in range(self.steps):
                loss = loss_of(self.kind, self._forward(fast, batch.support_x[i]), batch.support_y[i])
                grads = torch.autograd.grad(loss, fast, create_graph=not first_order)
                fast = [p - self.lr * g for p, g in zip(fast, grads)]
            query = loss_of(self.kind, self._forward(fast, batch.query_x[i]), batch.query_y[i]) / n
            query.backward()
            total = total + query.detach()
        return total

    def _reptile(self, batch):
        x = torch.cat([batch.support_x, batch.query_x], dim=1)
        y = torch.cat([batch.support_y, batch.query_y], dim=1)
        theta = [p.detach() for p in self.params]
        phi_sum = [torch.zeros_like(t) for t in theta]
        for i in range(len(batch)):
            fast = [t.clone().requires_grad_(True) for t in theta]
            for _ in range(self.steps):
                grads = torch.autograd.grad(loss_of(self.kind, self._forward(fast, x[i]), y[i]), fast)
                fast = [(p - self.lr * g).detach().requires_grad_(True) for p, g in zip(fast, grads)]
            phi_sum = [s + f.detach() for s, f in zip(phi_sum, fast)]
        surrogate = 0.0
        for p, t, s in zip(self.params, theta, phi_sum):  # d/dθ of 0.5·‖θ − mean φ‖² is θ − mean φ
            step = t - s / len(batch)
            p.grad = step if p.grad is None else p.grad + step
            surrogate = surrogate + 0.5 * step.pow(2).sum()
        return surrogate

    def _cavia(self, batch):
        n, total = len(batch), 0.0
        ref = self.params[0]
        for i in range(n):
            context = torch.zeros(self.case.workload.context_dim, dtype=ref.dtype, device=ref.device,
                                  requires_grad=True)
            for _ in range(self.steps):
                loss = loss_of(self.kind, self._forward(self.params, batch.support_x[i], context), batch.support_y[i])
                (grad,) = torch.autograd.grad(loss, context, create_graph=True)
                context = context - self.lr * grad
            query = loss_of(self.kind, self._forward(self.params, batch.query_x[i], context), batch.query_y[i]) / n
            query.backward()
            total = total + query.detach()
        return total

    def _protonet(self, batch):
        n, total = len(batch), 0.0
        shots = batch.support_x.shape[1]
        for i in range(n):
            features = self._forward(self.params, torch.cat([batch.support_x[i], batch.query_x[i]]), head=False)
            support, query = features[:shots], features[shots:]
            prototypes = torch.stack([support[batch.support_y[i] == c].mean(0)
                                      for c in range(self.case.workload.n_outputs)])
            logits = -(query.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(-1)
            loss = F.cross_entropy(logits, batch.query_y[i]) / n
            loss.backward()
            total = total + loss.detach()
        return total


def _maml_only(case: Case, library: str) -> None:
    if case.learner not in ("maml", "fomaml"):
        raise Unsupported(f"{library} is measured for MAML only")


class Learn2LearnMAML:
    """``learn2learn.algorithms.MAML``: ``clone()`` per task, ``adapt(loss)`` per inner step, query backward."""

    def __init__(self, case: Case):
        _maml_only(case, "learn2learn")
        maml_cls, _ = load_learn2learn()
        w = case.workload
        self.kind, self.steps = w.kind, w.inner_steps
        net = nets.module(w).to(device=case.device, dtype=case.dtype)
        self.params = nets.load(net, case.weights)
        self.maml = maml_cls(net, lr=w.inner_lr[case.learner], first_order=case.learner == "fomaml")

    def backward(self, batch):
        n, total = len(batch), 0.0
        for i in range(n):
            learner = self.maml.clone()
            for _ in range(self.steps):
                learner.adapt(loss_of(self.kind, learner(batch.support_x[i]), batch.support_y[i]))
            query = loss_of(self.kind, learner(batch.query_x[i]), batch.query_y[i]) / n
            query.backward()
            total = total + query.detach()
        return total


class HigherMAML:
    """higher's MAML: ``innerloop_ctx`` with a differentiable SGD per task (first order: gradients detached)."""

    def __init__(self, case: Case):
        _maml_only(case, "higher")
        try:
            import higher
        except ImportError as exc:
            raise Unsupported(f"higher is not installed ({exc}); pip install 'metareg[perf]'") from None
        self.higher = higher
        w = case.workload
        self.kind, self.steps = w.kind, w.inner_steps
        self.net = nets.module(w).to(device=case.device, dtype=case.dtype)
        self.params = nets.load(self.net, case.weights)
        self.inner_opt = torch.optim.SGD(self.net.parameters(), lr=w.inner_lr[case.learner])
        self.callback = (lambda grads: [g.detach() for g in grads]) if case.learner == "fomaml" else None

    def backward(self, batch):
        n, total = len(batch), 0.0
        for i in range(n):
            with self.higher.innerloop_ctx(self.net, self.inner_opt, copy_initial_weights=False) as (fnet, diffopt):
                for _ in range(self.steps):
                    diffopt.step(loss_of(self.kind, fnet(batch.support_x[i]), batch.support_y[i]),
                                 grad_callback=self.callback)
                query = loss_of(self.kind, fnet(batch.query_x[i]), batch.query_y[i]) / n
                query.backward()
            total = total + query.detach()
        return total


_L2L: tuple | None = None


def load_learn2learn() -> tuple[type, str]:
    """learn2learn's MAML class and a note on how it was loaded.

    ``import learn2learn`` imports torchvision and gym for its datasets and environments; on a CPU-only torch from
    PyPI there is no working torchvision (its wheel links CUDA libraries), so when the package import fails the
    MAML module and the utilities it uses (``learn2learn.algorithms.maml``, ``base_learner``, ``learn2learn.utils``,
    which need only torch) are loaded from the installed distribution without running the package's
    ``__init__``: the code measured is the same. The note says which way it went.
    """
    global _L2L
    if _L2L is not None:
        return _L2L
    try:
        version = importlib.metadata.version("learn2learn")
    except importlib.metadata.PackageNotFoundError:
        raise Unsupported("learn2learn is not installed; see docs/performance.md for how") from None
    try:
        import learn2learn

        _L2L = (learn2learn.algorithms.MAML, f"learn2learn {version}")
        return _L2L
    except Exception as exc:  # noqa: BLE001 - any failure of the package import; say which and go on
        why = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
    spec = importlib.util.find_spec("learn2learn")
    saved = {k: v for k, v in sys.modules.items() if k == "learn2learn" or k.startswith("learn2learn.")}
    for k in saved:
        del sys.modules[k]
    try:
        for name, path in (("learn2learn", spec.submodule_search_locations),
                           ("learn2learn.algorithms", [p + "/algorithms" for p in spec.submodule_search_locations])):
            package = types.ModuleType(name)
            package.__path__ = list(path)
            sys.modules[name] = package
        maml = importlib.import_module("learn2learn.algorithms.maml")
    except Exception as exc:  # noqa: BLE001
        raise Unsupported(f"learn2learn {version} could not be imported ({why}; MAML module alone: {exc})") from None
    finally:
        for k in [k for k in sys.modules if k == "learn2learn" or k.startswith("learn2learn.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    _L2L = (maml.MAML, f"learn2learn {version} (MAML module alone; package import failed: {why})")
    return _L2L
