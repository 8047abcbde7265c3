"""Building blocks the gradient-based learners share: task losses, per-task metrics, and the inner SGD loop.

The inner loop is written on parameter dictionaries with ``torch.func`` so one task's adaptation is a pure function,
which ``vmap`` turns into the whole meta-batch at once and which a plain loop calls task by task: the same code is
the batched path and its reference.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from metareg.toolkit.metrics import BY_KIND as METRICS

Params = dict[str, torch.Tensor]


def task_loss(kind: str, prediction: torch.Tensor, target: torch.Tensor,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of logits for classification, mean squared error for regression (one task or flattened).

    ``weight`` (one per sample, ``prediction.shape[:-1]``; ``TaskBatch.support_weight`` for a support set) makes it
    the weighted mean Σ w·ℓ / Σ w, so a generated sample of weight w counts w times as much as a real one and one of
    weight 0 not at all; ``None`` is the plain mean.
    """
    if weight is None:
        if kind == "classification":
            return F.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1))
        return F.mse_loss(prediction, target)
    losses = _sample_losses(kind, prediction, target).reshape(-1)
    w = weight.to(losses.dtype).reshape(-1)
    return (w * losses).sum() / w.sum().clamp_min(torch.finfo(losses.dtype).tiny)


def _sample_losses(kind: str, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each sample's loss, shape ``prediction.shape[:-1]``: cross-entropy, or the mean squared error of its outputs."""
    if kind == "classification":
        flat = F.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1), reduction="none")
        return flat.reshape(prediction.shape[:-1])
    return (prediction - target).pow(2).mean(-1)


def task_metric(kind: str, prediction: torch.Tensor, target: torch.Tensor) -> tuple[str, torch.Tensor]:
    """The per-task evaluation metric of ``[tasks, queries, outputs]`` predictions: accuracy or MSE, shape [tasks]."""
    name = METRICS[kind].name
    if kind == "classification":
        return name, (prediction.argmax(-1) == target).float().mean(dim=1)
    return name, (prediction - target).pow(2).flatten(1).mean(dim=1)


def sgd_steps(
    loss_fn: Callable[[Params], Any],
    params: Params,
    steps: int,
    lr: float,
    first_order: bool = False,
    has_aux: bool = False,
):
    """``steps`` plain gradient steps on ``loss_fn`` from ``params`` (a dict of tensors).

    The gradient is taken with ``torch.func.grad``, so outer autograd sees through the steps (second order) unless
    ``first_order`` detaches it; that is all first-order MAML is. With ``has_aux``, ``loss_fn`` returns
    ``(loss, aux)`` and the result is ``(params, aux at the starting params)`` (``None`` when ``steps`` is 0): the
    pre-update loss a learner reports comes from the first step's forward pass instead of an extra one.
    """
    grad_fn = torch.func.grad(loss_fn, has_aux=has_aux)
    first = None
    for step in range(steps):
        grads = grad_fn(params)
        if has_aux:
            grads, aux = grads
            if step == 0:
                first = aux
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}
        params = {k: params[k] - lr * grads[k] for k in params}
    return (params, first) if has_aux else params


def tape_sgd_steps(
    loss_fn: Callable[[Params], Any],
    params: Params,
    steps: int,
    lr: float,
    first_order: bool = False,
    has_aux: bool = False,
):
    """``sgd_steps`` on autograd's ordinary tape (``torch.autograd.grad``, ``create_graph`` unless first order):
    the same steps and the same result, for code that does not run under ``vmap`` (the grouped strategy).

    Why: ``torch.func.grad`` wraps every tensor of every op at a new interpreter level, a fixed cost per op that
    dominates small networks; on sinusoid MAML (MLP 40-40, grouped) the tape measured faster (docs/performance.md).
    Inside ``torch.no_grad`` (prediction) the inner loop is still differentiated. When no parameter requires a
    gradient (detached weights: prediction, Reptile), nothing outside can differentiate the result, so the steps
    are first order and the adapted weights come back detached; ``aux`` always comes back detached.
    """
    track = any(v.requires_grad for v in params.values())
    with torch.enable_grad():
        params = {k: v if v.requires_grad else v.detach().requires_grad_() for k, v in params.items()}
        first = None
        for step in range(steps):
            out = loss_fn(params)
            loss, aux = out if has_aux else (out, None)
            if step == 0 and has_aux:
                first = aux.detach() if isinstance(aux, torch.Tensor) else aux
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=track and not first_order)
            params = {k: p - lr * g for (k, p), g in zip(params.items(), grads)}
    if not track:
        params = {k: v.detach() for k, v in params.items()}
    return (params, first) if has_aux else params


def per_task(fn: Callable, vectorize: bool, *batched: torch.Tensor):
    """Apply ``fn`` to each task of tensors with a leading task dimension: ``vmap`` or a plain loop, same result.

    ``vectorize`` is a bool, never a strategy name: any non-empty string is truthy, so ``"loop"`` would run vmap.
    """
    if not isinstance(vectorize, bool):
        raise TypeError(f"per_task(fn, vectorize, ...) takes vectorize as a bool, got {vectorize!r}: pass "
                        f"strategy == 'vmap' for a resolved strategy (metareg.resolve_strategy)")
    if vectorize:
        return torch.func.vmap(fn, randomness="different")(*batched)
    outs = [fn(*(t[i] for t in batched)) for i in range(batched[0].shape[0])]
    if isinstance(outs[0], tuple):
        return tuple(torch.stack(o) for o in zip(*outs))
    return torch.stack(outs)


def task_losses(kind: str, prediction: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
    """Each task's loss, shape ``[T]``, from ``[T, N, outputs]`` predictions: the per-task ``task_loss``, weighted
    within each task by ``weight [T, N]`` when given."""
    if weight is not None:
        losses = _sample_losses(kind, prediction, target)
        w = weight.to(losses.dtype)
        return (w * losses).sum(1) / w.sum(1).clamp_min(torch.finfo(losses.dtype).tiny)
    if kind == "classification":
        losses = F.cross_entropy(prediction.flatten(0, 1), target.flatten(), reduction="none")
        return losses.view(target.shape).mean(1)
    return (prediction - target).pow(2).flatten(1).mean(1)


def class_means(features: torch.Tensor, labels: torch.Tensor, n_way: int,
                weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean feature of each class: ``features [T, S, F]``, ``labels [T, S]`` -> ``[T, n_way, F]``.

    Row c is a function of class c's support features only (a class with no support sample gets zeros); ProtoNet's
    prototypes and Versa's amortisation inputs are both this. With ``weights [T, S]`` (``TaskBatch.support_weight``)
    it is the weighted mean, so a generated sample of weight w counts w times as much as a real one.
    """
    one_hot = F.one_hot(labels, n_way).to(features.dtype)  # [T, S, N]
    if weights is not None:
        one_hot = one_hot * weights.to(features.dtype).unsqueeze(-1)
    counts = one_hot.sum(1).clamp_min(1e-12 if weights is not None else 1).unsqueeze(-1)  # [T, N, 1]
    return one_hot.transpose(1, 2) @ features / counts
