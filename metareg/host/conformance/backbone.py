"""Runtime checks of the backbone contract, on every probe input shape (a vector, a small image) it accepts.

A backbone declines a shape it cannot take by raising ``IncompatibleError`` in its constructor (Conv4 declines
vectors); it must accept at least one. What is checked is what the learners rely on: features of the promised
shape and dtype, gradients to every parameter, a forward that ``torch.func`` can call with substituted parameters
(MAML's inner loop), batch statistics per call (never running averages), the ``vmap`` and context promises.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from metareg.errors import IncompatibleError
from metareg.host.conformance.clauses import Declined, Finding, Suite, expect
from metareg.host.conformance.probes import PROBE_SHAPES, close, shape_of
from metareg.host.conformance.settings import part_config

SUITE = Suite("backbone")
SEED = 1234
CONTEXT_DIM = 3


class BackboneProbe:
    """One backbone class on one input shape."""

    def __init__(self, cls: type, input_shape: tuple[int, ...], overrides: dict | None):
        self.cls, self.input_shape, self.overrides = cls, input_shape, overrides
        self.config = None
        self.declined = False

    def build(self, seed: int = SEED, context_dim: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        return self.cls(self.input_shape, self.config, context_dim=context_dim)

    def inputs(self, n: int, seed: int = 0, tasks: int | None = None) -> torch.Tensor:
        lead = (n,) if tasks is None else (tasks, n)
        return torch.randn((*lead, *self.input_shape), generator=torch.Generator().manual_seed(seed))


@SUITE.clause("build", "constructed as cls(input_shape, config, context_dim=0), it is an nn.Module with a positive "
                       "integer feature_dim (it raises IncompatibleError for input shapes it cannot take)")
def build(probe: BackboneProbe) -> None:
    probe.config = part_config(probe.cls, None, probe.overrides)
    try:
        backbone = probe.build()
    except IncompatibleError as exc:
        probe.declined = True
        raise Declined(f"declines input shape {list(probe.input_shape)}: {exc}") from None
    expect(isinstance(backbone, nn.Module), f"got a {type(backbone).__name__}, not an nn.Module")
    dim = getattr(backbone, "feature_dim", None)
    expect(isinstance(dim, int) and dim > 0, f"feature_dim is {dim!r}; set self.feature_dim in the constructor")


@SUITE.clause("forward", "forward(x) maps x [N, *input_shape] to finite features [N, feature_dim] of x's dtype, "
                         "for any N")
def forward(probe: BackboneProbe) -> None:
    backbone = probe.build()
    for n in (4, 7):
        x = probe.inputs(n)
        f = backbone(x)
        want = (n, backbone.feature_dim)
        expect(isinstance(f, torch.Tensor) and tuple(f.shape) == want,
               f"x {list(x.shape)} gave {shape_of(f)}, expected {list(want)}")
        expect(f.dtype == x.dtype, f"features are {f.dtype}, inputs {x.dtype}")
        expect(bool(torch.isfinite(f).all()), "features contain NaN or inf")


@SUITE.clause("gradients", "every parameter receives a finite gradient through the features")
def gradients(probe: BackboneProbe) -> None:
    backbone = probe.build()
    backbone(probe.inputs(4)).pow(2).sum().backward()
    missing = [n for n, p in backbone.named_parameters() if p.requires_grad and p.grad is None]
    expect(not missing, f"no gradient reached {', '.join(missing[:5])}")
    bad = [n for n, p in backbone.named_parameters() if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    expect(not bad, f"non-finite gradients in {', '.join(bad[:5])}")


@SUITE.clause("functional", "the features are a function of the registered parameters: torch.func.functional_call "
                            "with other parameter values computes what the module computes holding those values "
                            "(how gradient-based learners adapt a network)")
def functional(probe: BackboneProbe) -> None:
    backbone = probe.build()
    x = probe.inputs(4)
    params = {k: v.detach() for k, v in backbone.named_parameters()}
    noise = torch.Generator().manual_seed(2)
    moved = {k: v + 0.1 * torch.randn(v.shape, generator=noise, dtype=v.dtype) for k, v in params.items()}
    substituted = functional_call(backbone, moved, (x,))
    with torch.no_grad():
        for name, p in backbone.named_parameters():
            p.copy_(moved[name])
    expect(close(substituted, backbone(x)), "features under substituted parameters differ from the module's own "
                                            "with those values (a parameter used through another reference?)")
    if params:
        grads = torch.func.grad(lambda p: functional_call(backbone, p, (x,)).pow(2).sum())(moved)
        expect(all(bool(torch.isfinite(g).all()) for g in grads.values()), "torch.func.grad gives non-finite gradients")


@SUITE.clause("batch_stats", "batch norm uses the current batch's statistics, never running averages "
                             "(metareg.TaskBatchNorm), so each task is normalised by its own samples")
def batch_stats(probe: BackboneProbe) -> None:
    backbone = probe.build()
    running = [name for name, m in backbone.named_modules()
               if isinstance(m, nn.modules.batchnorm._NormBase) and m.track_running_stats]
    expect(not running, f"{', '.join(running[:5])} keep running statistics; use metareg.TaskBatchNorm")


@SUITE.clause("vmap", "unless it declares supports_vmap = False, torch.func.vmap over a leading task dimension gives "
                      "the features a loop over the tasks gives")
def vmap(probe: BackboneProbe) -> None:
    if not getattr(probe.cls, "supports_vmap", True):
        raise Declined("not checked: declares supports_vmap = False (use learners with vectorize=loop)")
    backbone = probe.build()
    x = probe.inputs(4, tasks=3)
    batched = torch.func.vmap(backbone, randomness="different")(x)
    looped = torch.stack([backbone(x[t]) for t in range(x.shape[0])])
    expect(close(batched, looped), "vmap over tasks and a loop over tasks give different features")


@SUITE.clause("context", f"unless it declares supports_context = False, built with context_dim={CONTEXT_DIM} its "
                         f"forward(x, context [{CONTEXT_DIM}]) gives [N, feature_dim] features that depend on the "
                         f"context, differentiably")
def context(probe: BackboneProbe) -> None:
    if not getattr(probe.cls, "supports_context", True):
        raise Declined("not checked: declares supports_context = False (CAVIA cannot use it)")
    backbone = probe.build(context_dim=CONTEXT_DIM)
    x = probe.inputs(4)
    c = torch.randn(CONTEXT_DIM, generator=torch.Generator().manual_seed(1), requires_grad=True)
    f = backbone(x, c)
    want = (4, backbone.feature_dim)
    expect(tuple(f.shape) == want, f"with a context gave {shape_of(f)}, expected {list(want)}")
    expect(not torch.equal(f, backbone(x, torch.zeros(CONTEXT_DIM))), "the features ignore the context")
    (grad,) = torch.autograd.grad(f.pow(2).sum(), c, allow_unused=True)
    expect(grad is not None and float(grad.abs().sum()) > 0, "no gradient reaches the context")


@SUITE.clause("deterministic", "built twice under the same torch seed, it has the same parameters and features")
def deterministic(probe: BackboneProbe) -> None:
    first, second = probe.build(), probe.build()
    a, b = first.state_dict(), second.state_dict()
    expect(all(torch.equal(a[k], b[k]) for k in a), "two instances built from the same seed differ")
    torch.manual_seed(SEED)
    f1 = first(probe.inputs(4))
    torch.manual_seed(SEED)
    expect(torch.equal(f1, second(probe.inputs(4))), "the same inputs and seed give different features")


def check(cls: type, overrides: dict | None, report) -> None:
    """Run the suite on each probe shape; a backbone that declines every shape breaks the build clause."""
    accepted = 0
    for shape in PROBE_SHAPES:
        probe = BackboneProbe(cls, shape, overrides)
        SUITE.run(probe, report, context=f"on inputs {list(shape)}")
        accepted += not probe.declined
    if not accepted:
        shapes = " or ".join(str(list(s)) for s in PROBE_SHAPES)
        report.failures.append(Finding(SUITE.clauses[0], f"declines every probe input shape ({shapes})"))
