"""How a batch of tasks is adapted and run: one task at a time, under ``vmap``, or grouped, chosen by ``vectorize``.

Every strategy computes the same function (the loop is the reference the others are checked against), so the
choice is speed and memory alone: ``resolve_strategy`` makes it for a backbone on a device, and ``adapt_tasks``,
``forward_tasks`` and ``embed_tasks`` carry it out, so a learner written on them, built-in or third-party, gets all
of them through its ``vectorize`` setting.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from metareg.toolkit.functional import Params, per_task, sgd_steps, task_loss, task_losses, tape_sgd_steps
from metareg.toolkit.grouped import grouped_forward, stacked, task_layers
from metareg.toolkit.sample_weights import batch_norm_weights, with_query_weights

#: the ``vectorize`` settings of a learner with a grouped path: what it declares as its setting's
#: ``metareg.Choice``; a learner whose tasks share their weights (CAVIA) declares ``Choice("auto", "vmap", "loop")``
STRATEGIES = ("auto", "vmap", "loop", "grouped")


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


def resolve_strategy(setting: str, backbone: nn.Module, device: torch.device, shared_weights: bool = False) -> str:
    """``vmap``, ``loop`` or ``grouped`` for a ``vectorize`` setting (``auto|vmap|loop|grouped``), for ``backbone``
    on ``device``; a setting the backbone cannot honour is a config error that names the fix.

    ``auto`` on the CPU: grouped when the backbone offers ``task_layers`` (measured by ``python -m benchmarks.perf``
    faster than both vmap and the per-task loop for MLP and Conv4, see docs/performance.md), else a per-task loop
    for convolutional backbones (vmapped convolutions with per-task weights measured ~2x slower than the loop) and
    vmap for the rest. On a GPU: vmap, the design's default, until the harness has been run on one. A backbone
    that declares ``supports_vmap = False`` never runs under vmap: ``auto`` picks grouped or the loop for it, and
    ``vmap`` is a config error.

    ``shared_weights``: every task runs with the same weights (CAVIA adapts only a context vector). Grouped, which
    stacks per-task weights, does not apply, and ``auto`` picks vmap on the CPU too: vmap then turns the per-task
    convolutions into ordinary batched ones, which measured faster than the loop (docs/performance.md).
    """
    if setting not in STRATEGIES:
        from metareg.errors import ConfigError

        raise ConfigError(f"vectorize must be auto, vmap, loop or grouped, got {setting!r}")
    grouped_ok = not shared_weights and task_layers(backbone) is not None
    if setting == "grouped" and not grouped_ok:
        from metareg.errors import ConfigError

        if shared_weights:
            raise ConfigError("vectorize=grouped stacks per-task weights, but here every task shares them: use vmap "
                              "or loop")
        raise ConfigError(f"vectorize=grouped needs a backbone with task_layers() (conv4 without a context has "
                          f"them); {type(backbone).__name__} here has none: use vmap or loop")
    refusers = _vmap_refusers(backbone)
    if setting == "vmap":
        _require_vmap(refusers)
    if setting != "auto":
        return setting
    return _auto(backbone, device, refusers, grouped_ok, shared_weights)


def _auto(backbone: nn.Module, device: torch.device, refusers: list[str], grouped_ok: bool,
          shared_weights: bool = False) -> str:
    """``auto``'s choice (``resolve_strategy``'s docstring gives the measurements behind it)."""
    if refusers:
        return "grouped" if grouped_ok else "loop"
    if device.type != "cpu" or shared_weights:
        return "vmap"
    if grouped_ok:
        return "grouped"
    return "loop" if _has_conv(backbone) else "vmap"


def adapt_tasks(model: nn.Module, kind: str, x: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float,
                strategy: str, first_order: bool = False, params: Params | None = None,
                weight: torch.Tensor | None = None) -> tuple[Params, torch.Tensor | None]:
    """Every task's own weights after ``steps`` SGD steps at ``lr`` on its loss ``task_loss(kind, model(x[t]), y[t])``,
    from ``params`` (default: the model's parameters), under a resolved ``strategy``.

    Returns ``({name: [T, *shape]}, each task's loss before the first step [T])``, the loss ``None`` when ``steps``
    is 0. Outer autograd differentiates through the steps (second order) unless ``first_order``; parameters that
    need no gradient (detached: Reptile, prediction) come back detached. Only the weights in ``params`` adapt: the
    model's others are shared by every task and stay as they are (ANIL passes only the head's), under every
    strategy, and outer autograd still reaches them through the steps. Loop and vmap step with ``sgd_steps``
    (``torch.func.grad``); grouped needs ``model.task_layers()`` (a learner ``head(backbone(x))`` returns
    ``metareg.learner_layers(self.backbone, self.head)``) and steps on autograd's tape (``tape_sgd_steps``), on the
    sum of the tasks' losses, whose gradient w.r.t. task t's weights is task t's own. The loss before is the first
    step's forward pass, so it costs nothing extra.

    ``weight [T, S]`` (``TaskBatch.support_weight``) weighs each sample in its task's loss (``task_loss``'s
    weighted mean) and in the batch-norm statistics of the forward passes (``metareg.batch_norm_weights``), under
    every strategy; a sample of weight 0 then changes nothing, neither the adapted weights nor their gradients.
    """
    params = dict(model.named_parameters()) if params is None else params
    if steps == 0:
        return stacked(params, len(x)), None
    if strategy == "grouped":
        layers, shared = model.task_layers(), _shared_weights(model, params, len(x))

        def summed_loss(p):
            losses = task_losses(kind, grouped_forward(layers, {**shared, **p}, x, weight), y, weight)
            return losses.sum(), losses

        return tape_sgd_steps(summed_loss, stacked(params, len(x)), steps, lr, first_order, has_aux=True)
    names = list(params)

    def one_task(xt, yt, wt=None):
        def loss_fn(p):
            with batch_norm_weights(wt):
                out = functional_call(model, p, (xt,))
            loss = task_loss(kind, out, yt, wt)
            return loss, loss

        adapted, before = sgd_steps(loss_fn, params, steps, lr, first_order, has_aux=True)
        return tuple(adapted[k] for k in names) + (before,)

    tensors = (x, y) if weight is None else (x, y, weight)
    *adapted, before = per_task(one_task, strategy == "vmap", *tensors)
    return dict(zip(names, adapted)), before


def _shared_weights(model: nn.Module, params: Params, tasks: int) -> Params:
    """The model's weights that ``params`` leaves out, stacked for ``tasks`` tasks: what every task shares under
    grouped (ANIL's body), as ``functional_call`` reads them from the model itself under loop and vmap."""
    return stacked({k: v for k, v in model.named_parameters() if k not in params}, tasks)


def forward_tasks(model: nn.Module, params: Params, x: torch.Tensor, strategy: str) -> torch.Tensor:
    """``model``'s outputs ``[T, N, outputs]`` on each task's inputs ``x[t]`` with that task's weights
    ``params[name][t]`` (as ``adapt_tasks`` returns them), under the same ``strategy``."""
    if strategy == "grouped":
        return grouped_forward(model.task_layers(), {**_shared_weights(model, params, len(x)), **params}, x)
    names = list(params)

    def one_task(xt, *weights):
        return functional_call(model, dict(zip(names, weights)), (xt,))

    return per_task(one_task, strategy == "vmap", x, *(params[k] for k in names))


def embed_tasks(backbone: nn.Module, batch, vectorize: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Support and query features ``[T, S, F]``, ``[T, Q, F]``, each task's inputs in one backbone call.

    One call per task keeps batch-norm statistics the task's own (transductive over support and query, as MAML's
    reference does), a support sample weighing its ``support_weight`` in the statistics
    (``metareg.batch_norm_weights``; the queries 1); tasks run under ``vmap`` or a loop as ``auto`` decides, or
    grouped when asked for (``vectorize=grouped``: not ``auto``'s choice here, because with glibc's default
    allocator it measured no faster than the loop for ProtoNet's single forward pass; docs/performance.md).
    """
    s = batch.support_x.shape[1]
    x = torch.cat([batch.support_x, batch.query_x], dim=1)
    weight = with_query_weights(batch.support_weight, batch.query_x.shape[1])
    if vectorize == "auto":  # never grouped (docstring)
        strategy = _auto(backbone, x.device, _vmap_refusers(backbone), grouped_ok=False)
    else:
        strategy = resolve_strategy(vectorize, backbone, x.device)
    if strategy == "grouped":
        features = grouped_forward(task_layers(backbone), stacked(dict(backbone.named_parameters()), len(x)), x,
                                   weight)
    elif weight is None:
        features = per_task(backbone, strategy == "vmap", x)
    else:
        def weighted(xt, wt):
            with batch_norm_weights(wt):
                return backbone(xt)

        features = per_task(weighted, strategy == "vmap", x, weight)
    return features[:, :s], features[:, s:]
