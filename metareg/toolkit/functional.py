"""Building blocks the gradient-based learners share: task losses, per-task metrics, and the inner SGD loop.

The inner loop is written on parameter dictionaries with ``torch.func`` so one task's adaptation is a pure function,
which ``vmap`` turns into the whole meta-batch at once and which a plain loop calls task by task: the same code is
the batched path and its reference.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from metareg.toolkit.metrics import BY_KIND as METRICS

Params = dict[str, torch.Tensor]


def task_loss(kind: str, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits for classification, mean squared error for regression (one task or flattened)."""
    if kind == "classification":
        return F.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1))
    return F.mse_loss(prediction, target)


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
    """Apply ``fn`` to each task of tensors with a leading task dimension: ``vmap`` or a plain loop, same result."""
    if vectorize:
        return torch.func.vmap(fn, randomness="different")(*batched)
    outs = [fn(*(t[i] for t in batched)) for i in range(batched[0].shape[0])]
    if isinstance(outs[0], tuple):
        return tuple(torch.stack(o) for o in zip(*outs))
    return torch.stack(outs)


#: the ``vectorize`` settings of a learner with a grouped path (``resolve_strategy``), and of one without
#: (``resolve_vectorize``): what a learner declares as its setting's ``metareg.Choice``
STRATEGIES = ("auto", "vmap", "loop", "grouped")
PER_TASK_STRATEGIES = ("auto", "vmap", "loop")


def resolve_vectorize(setting: str, module: nn.Module, device: torch.device, shared_weights: bool = False) -> bool:
    """``vmap`` (True) or ``loop`` (False) for ``vectorize=auto``, for learners without a grouped path.

    vmapped convolutions with per-task weights were measured ~2x slower than a per-task loop on CPU (issue 8's
    baseline numbers: Conv4 5-way 1-shot, 2 cores), while on GPU and for MLPs the batched path wins. When every
    task uses the same weights (``shared_weights``: CAVIA adapts only a context vector) vmap turns the per-task
    convolutions into ordinary batched ones, and it measured faster than the loop on the CPU too
    (docs/performance.md), so ``auto`` picks it. ``vmap`` and ``loop`` force a strategy.
    """
    if setting not in PER_TASK_STRATEGIES:
        from metareg.errors import ConfigError

        raise ConfigError(f"vectorize must be auto, vmap or loop, got {setting!r}")
    refusers = _vmap_refusers(module)
    if setting == "vmap":
        _require_vmap(refusers)
    if setting != "auto":
        return setting == "vmap"
    return not refusers and (shared_weights or device.type != "cpu" or not _has_conv(module))


def _vmap_refusers(module: nn.Module) -> list[str]:
    """The class names of the backbones in ``module`` that declare ``supports_vmap = False``: vmap would not give
    them the per-task results a loop gives, so no strategy may batch them with vmap."""
    return sorted({type(m).__name__ for m in module.modules() if not getattr(type(m), "supports_vmap", True)})


def _require_vmap(refusers: list[str]) -> None:
    if refusers:
        from metareg.errors import ConfigError

        raise ConfigError(f"vectorize=vmap: backbone {', '.join(refusers)} declares supports_vmap = False (vmap would "
                          f"not treat each task on its own); use vectorize=loop or auto")


def _has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in module.modules())


def task_layers(backbone: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """The backbone's ``task_layers()`` (its layers in the order its forward applies them, then a flatten), or
    ``None`` when it offers none: then the grouped strategy is not available for it."""
    method = getattr(backbone, "task_layers", None)
    return method() if callable(method) else None


def learner_layers(backbone: nn.Module, head: nn.Module) -> list[tuple[str, nn.Module]]:
    """``task_layers`` of a learner that holds ``self.backbone`` and then applies ``self.head`` to its features."""
    return [(f"backbone.{name}", layer) for name, layer in task_layers(backbone)] + [("head", head)]


def resolve_strategy(setting: str, backbone: nn.Module, device: torch.device) -> str:
    """``vmap``, ``loop`` or ``grouped`` for a learner that has all three (``vectorize=auto|vmap|loop|grouped``).

    ``auto`` on the CPU: grouped when the backbone offers ``task_layers`` (measured by ``python -m benchmarks.perf``
    faster than both vmap and the per-task loop for MLP and Conv4, see docs/performance.md), else a per-task loop
    for convolutional backbones and vmap for the rest. On a GPU: vmap, the design's default, until the harness has
    been run on one. A backbone that declares ``supports_vmap = False`` never runs under vmap: ``auto`` picks
    grouped or the loop for it, and ``vmap`` is a config error.
    """
    if setting not in STRATEGIES:
        from metareg.errors import ConfigError

        raise ConfigError(f"vectorize must be auto, vmap, loop or grouped, got {setting!r}")
    grouped_ok = task_layers(backbone) is not None
    if setting == "grouped" and not grouped_ok:
        from metareg.errors import ConfigError

        raise ConfigError(f"vectorize=grouped needs a backbone with task_layers() (conv4 without a context has "
                          f"them); {type(backbone).__name__} here has none: use vmap or loop")
    refusers = _vmap_refusers(backbone)
    if setting == "vmap":
        _require_vmap(refusers)
    if setting != "auto":
        return setting
    if device.type != "cpu" and not refusers:
        return "vmap"
    if grouped_ok:
        return "grouped"
    return "loop" if _has_conv(backbone) or refusers else "vmap"


# --- the grouped strategy: every task at once, per-task weights stacked on a leading task dimension ---------------
#: layers that act per sample and per channel, so they are exact on the [N, T*C, ...] layout of all tasks
_LAYOUT_SAFE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Identity)


def grouped_forward(layers: list[tuple[str, nn.Module]], params: Params, x: torch.Tensor) -> torch.Tensor:
    """Run ``layers`` on every task at once, each task with its own weights: ``x [T, N, *in]`` -> ``[T, N, out]``.

    ``params`` maps ``"{layer name}.{weight|bias}"`` to tensors with a leading task dimension ``[T, *shape]``.
    Convolutional layers run on the layout ``[N, T*C, H, W]``, where a per-task convolution is one convolution with
    ``groups=T`` and a per-task batch norm is an ordinary batch norm over the ``T*C`` channels (each task's own
    statistics, exactly as ``TaskBatchNorm``); the first ``nn.Linear`` flattens each task's features to
    ``[T, N, F]``, and linear layers are batched matrix products. Why: on the CPU this is the same arithmetic as a
    per-task loop in a few large, contiguous kernels, where ``vmap`` of the same convolutions was measured ~2x
    slower than the loop (docs/performance.md). No ``vmap``, so ``F.batch_norm`` is exact here.
    """
    from metareg.toolkit.layers import TaskBatchNorm

    tasks, n = x.shape[:2]
    flat = not isinstance(layers[0][1], nn.Conv2d)  # a network that starts with a linear layer flattens its inputs
    h = x.flatten(2) if flat else x.transpose(0, 1).reshape(n, tasks * x.shape[2], *x.shape[3:])
    layers = _pool_before_relu(layers)
    for name, layer in layers:
        if isinstance(layer, nn.Linear):
            if not flat:
                h, flat = h.reshape(n, tasks, -1).transpose(0, 1), True
            w, b = params[f"{name}.weight"], params.get(f"{name}.bias")
            h = torch.bmm(h, w.transpose(1, 2)) if b is None else torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        elif isinstance(layer, nn.Conv2d) and not flat:
            w, b = params[f"{name}.weight"], params.get(f"{name}.bias")
            h = F.conv2d(h, w.flatten(0, 1), None if b is None else b.flatten(), layer.stride, layer.padding,
                         layer.dilation, tasks * layer.groups)
        elif isinstance(layer, TaskBatchNorm) and not flat:
            h = F.batch_norm(h, None, None, params[f"{name}.weight"].flatten(), params[f"{name}.bias"].flatten(),
                             training=True, eps=layer.eps)
        elif isinstance(layer, _LAYOUT_SAFE):
            h = layer(h)
        else:
            raise TypeError(f"grouped_forward cannot run layer {name!r} ({type(layer).__name__}) on all tasks at once")
    if not flat:
        h = h.reshape(n, tasks, -1).transpose(0, 1)
    return h


def _pool_before_relu(layers: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """ReLU then max-pool as max-pool then ReLU: the same function (max commutes with a non-decreasing map, and an
    all-negative window has zero gradient either way), with the ReLU and its derivatives on a quarter of the
    elements (a 2x2 pool): ~4% of a Conv4 MAML meta-step on one CPU thread (measured under load, so roughly)."""
    out = list(layers)
    for i in range(len(out) - 1):
        (_, first), (_, second) = out[i], out[i + 1]
        if type(first) is nn.ReLU and type(second) is nn.MaxPool2d:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def stacked(params: Params, tasks: int) -> Params:
    """``params`` repeated (as views) along a new leading task dimension: every task starts from the same weights,
    and autograd sums the tasks' gradients back onto the shared tensors."""
    return {k: v.expand(tasks, *v.shape) for k, v in params.items()}


def task_losses(kind: str, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each task's loss, shape ``[T]``, from ``[T, N, outputs]`` predictions: the per-task ``task_loss``."""
    if kind == "classification":
        losses = F.cross_entropy(prediction.flatten(0, 1), target.flatten(), reduction="none")
        return losses.view(target.shape).mean(1)
    return (prediction - target).pow(2).flatten(1).mean(1)


def embed_tasks(backbone: nn.Module, batch, vectorize: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Support and query features ``[T, S, F]``, ``[T, Q, F]``, each task's inputs in one backbone call.

    One call per task keeps batch-norm statistics the task's own (transductive over support and query, as MAML's
    reference does); tasks run under ``vmap`` or a loop as ``resolve_vectorize`` decides, or grouped when asked
    for (``vectorize=grouped``: not ``auto``'s choice here, because with glibc's default allocator it measured no
    faster than the loop for ProtoNet's single forward pass; docs/performance.md).
    """
    s = batch.support_x.shape[1]
    x = torch.cat([batch.support_x, batch.query_x], dim=1)
    if vectorize == "grouped":
        strategy = resolve_strategy(vectorize, backbone, x.device)
    else:
        strategy = "vmap" if resolve_vectorize(vectorize, backbone, x.device) else "loop"
    if strategy == "grouped":
        features = grouped_forward(task_layers(backbone), stacked(dict(backbone.named_parameters()), len(x)), x)
    else:
        features = per_task(backbone, strategy == "vmap", x)
    return features[:, :s], features[:, s:]


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
