"""Runtime checks of the adversary contract: a loss on source and target features that the engine adds as it is.

An adversary sees features only, so the checks feed it feature tensors directly: source features N(0, 1) and
target features N(1, 1) (a shifted domain), of different counts, at several training progresses.
"""
from __future__ import annotations

import torch
from torch import nn

from metareg.host.conformance.clauses import Suite, expect
from metareg.host.conformance.probes import check_output
from metareg.host.conformance.settings import part_config
from metareg.host.contracts.adversary import AdversaryOutput

SUITE = Suite("adversary")
SEED = 1234
FEATURES, N_SOURCE, N_TARGET = 6, 5, 4


class AdversaryProbe:
    def __init__(self, cls: type, overrides: dict | None):
        self.cls, self.overrides = cls, overrides
        self.config = None

    def build(self, seed: int = SEED) -> nn.Module:
        torch.manual_seed(seed)
        return self.cls(FEATURES, self.config)

    @staticmethod
    def features(n_source: int = N_SOURCE, n_target: int = N_TARGET) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        source = torch.randn(n_source, FEATURES, generator=g)
        target = 1.0 + torch.randn(n_target, FEATURES, generator=g)
        return source.requires_grad_(), target.requires_grad_()

    def loss(self, adversary, progress: float = 1.0, seed: int = SEED, **sizes) -> torch.Tensor:
        torch.manual_seed(seed)
        return adversary(*self.features(**sizes), progress).loss


@SUITE.clause("build", "constructed as cls(feature_dim, config), it is an nn.Module")
def build(probe: AdversaryProbe) -> None:
    probe.config = part_config(probe.cls, None, probe.overrides)
    adversary = probe.build()
    expect(isinstance(adversary, nn.Module), f"got a {type(adversary).__name__}, not an nn.Module")


@SUITE.clause("output", "forward(source [N, F], target [M, F], progress) returns an AdversaryOutput whose loss is a "
                        "finite scalar of the features' dtype and whose metrics are scalar tensors, for progress "
                        "0 to 1 and N equal to M or not")
def output(probe: AdversaryProbe) -> None:
    adversary = probe.build()
    for progress in (0.0, 0.5, 1.0):
        for n_source, n_target in ((N_SOURCE, N_TARGET), (N_TARGET, N_TARGET)):
            source, target = probe.features(n_source, n_target)
            out = adversary(source, target, progress)
            check_output(out, AdversaryOutput, source.dtype, f"at progress {progress} with N={n_source}, M={n_target}")


@SUITE.clause("gradients", "at progress 1 the loss sends finite, non-zero gradients to both the source and the target "
                           "features, and finite gradients to every parameter of its own")
def gradients(probe: AdversaryProbe) -> None:
    adversary = probe.build()
    source, target = probe.features()
    torch.manual_seed(SEED)
    adversary(source, target, 1.0).loss.backward()
    for name, tensor in (("source", source), ("target", target)):
        g = tensor.grad
        expect(g is not None and float(g.abs().sum()) > 0, f"no gradient reaches the {name} features")
        expect(bool(torch.isfinite(g).all()), f"non-finite gradient on the {name} features")
    missing = [n for n, p in adversary.named_parameters() if p.requires_grad and p.grad is None]
    expect(not missing, f"no gradient reached {', '.join(missing[:5])}")
    bad = [n for n, p in adversary.named_parameters() if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    expect(not bad, f"non-finite gradients in {', '.join(bad[:5])}")


@SUITE.clause("deterministic", "built and called twice under the same torch seed, it gives the same loss")
def deterministic(probe: AdversaryProbe) -> None:
    first, second = probe.build(), probe.build()
    expect(torch.equal(probe.loss(first), probe.loss(second)), "two seeded instances give different losses")


def check(cls: type, overrides: dict | None, report) -> None:
    SUITE.run(AdversaryProbe(cls, overrides), report)
