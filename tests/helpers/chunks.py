"""The learners the chunking tests build in float64, one per built-in learner and strategy, and the meta-gradient
of a meta-batch taken in chunks (with threads, clipping and an extra loss) to compare against one pass."""
from __future__ import annotations

from unittest import mock

import torch

from metareg.host.registry import Registry
from metareg.run.chunking import meta_backward
from metareg.testing import tiny_batch


REGISTRY = Registry.load(warn=False)


TASKS = 5


#: (learner, its settings, backbone, its settings, task kind)
CASES = [
    ("maml", {"inner_steps": 2, "inner_lr": 0.1, "vectorize": "grouped"}, "conv4", {"channels": 3}, "classification"),
    ("maml", {"inner_steps": 2, "inner_lr": 0.1, "vectorize": "vmap"}, "mlp", {"hidden": [8, 8]}, "regression"),
    ("maml", {"inner_steps": 2, "inner_lr": 0.1, "first_order": True, "vectorize": "loop"}, "mlp", {"hidden": [8]},
     "classification"),
    ("reptile", {"inner_steps": 2, "inner_lr": 0.1, "vectorize": "grouped"}, "conv4", {"channels": 3},
     "classification"),
    ("cavia", {"inner_steps": 2, "inner_lr": 0.5, "context_dim": 3}, "conv4", {"channels": 3}, "classification"),
    ("cavia", {"inner_steps": 2, "inner_lr": 0.5, "context_dim": 3}, "mlp", {"hidden": [8, 8]}, "regression"),
    ("protonet", {"vectorize": "grouped"}, "conv4", {"channels": 3}, "classification"),
    ("versa", {"hidden": 6, "samples": 3}, "conv4", {"channels": 3}, "classification"),
    ("finetune", {}, "mlp", {"hidden": [8]}, "regression"),
]


def build_learner(learner: str, settings: dict, backbone: str, backbone_settings: dict, kind: str):
    torch.manual_seed(0)
    batch = tiny_batch(kind, n_tasks=TASKS, input_shape=(1, 16, 16) if backbone == "conv4" else None)
    batch = batch.to(torch.device("cpu"))
    batch = type(batch)(batch.support_x.double(), batch.support_y if kind == "classification" else
                        batch.support_y.double(), batch.query_x.double(),
                        batch.query_y if kind == "classification" else batch.query_y.double())
    learner_cls = REGISTRY.get("learner", learner).cls
    backbone_cls = REGISTRY.get("backbone", backbone).cls
    config = learner_cls.Config(**settings)
    from metareg.toolkit.tasks import TaskSpec

    n_out = 3 if kind == "classification" else 1
    spec = TaskSpec(kind, tuple(batch.support_x.shape[2:]), n_out, 2 if kind == "classification" else 5,
                    2 if kind == "classification" else 5, n_out if kind == "classification" else None)
    net = backbone_cls(spec.input_shape, backbone_cls.Config(**backbone_settings),
                       context_dim=learner_cls.context_size(config))
    return learner_cls(net, spec, config).double(), batch


def chunked_gradient(learner, batch, chunk, form="none", bound=10.0, extra=None, threads=1):
    params = list(learner.parameters())
    for p in params:
        p.grad = None
    with mock.patch("torch.randn", lambda *a, **k: torch.zeros(*a, **{**k, "dtype": k.get("dtype")})):
        out = meta_backward(learner, batch, params, chunk, form, bound, extra and (lambda: extra(learner)),
                            threads=threads)
    return torch.cat([p.grad.flatten() for p in params if p.grad is not None]), out


class LinearLearner(torch.nn.Module):
    """A stand-in learner for the choice: its memory is what the patched probe says."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(2))

    def meta_loss(self, batch):
        from metareg.host.contracts.learner import LearnerOutput

        return LearnerOutput(self.w.sum() * len(batch))
