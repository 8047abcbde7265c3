"""The post-hoc alignment probe: can a fresh discriminator still tell the domains apart in a trained run's features?

Why: an adversary's own in-training domain accuracy is a discriminator that lags the features it is trained
against, so it reads near chance while the features are still far from aligned (on glyph-world's style domains
DANN's logged accuracy was ~0.57 while a fresh discriminator separated the domains at ~0.8). The probe asks the
question after training, of the model the run keeps, for every run on a benchmark with a target domain, adversary
or not, so "DANN aligned the features" can be checked against "no adversary".

What it does (one fixed seed per run seed, ``metareg.torch_generator(seed, "domain-probe")``):

- **Features as a prediction sees them.** ``EPISODES`` test episodes of the target domain and as many of the
  source domain, each episode's support and query inputs in one ``learner.features`` call, so batch norm
  normalises each episode on its own, as at prediction. No generated samples enter.
- **The same classes on both sides**, where the benchmark declares ``test_domain`` (digits-shift, glyph-world's
  style domains, folder's office layout): the source episodes are the very same test episodes in the source
  domain (a second instance of the benchmark with ``test_domain`` flipped; the engine seeds both alike). Then the
  probe can only separate domains, not classes. A benchmark without the setting is probed with validation
  episodes (source) against test episodes (target), which differ in classes too: an upper bound on what the
  domains alone give.
- **A fresh discriminator of DANN's width** (``HIDDEN``: DANN's default 256-256 MLP, ReLU), on features standardised
  with its training half's statistics, trained with Adam for ``STEPS`` steps of ``BATCH`` samples drawn from the
  first half of each domain's episodes, and scored on the second half, whose features it never saw: accuracy is
  measured per held-out episode pair (source and target samples of one episode index), and reported as the mean and
  Student-t 95% CI over those pairs (episodes, not samples, are the independent units).

0.5 means the domains cannot be told apart; 1.0 that they separate perfectly. Its wall time is stored beside it
(``seconds``), so its share of a run's wall time can be read off any store (``python -m benchmarks.probe_cost``).
"""
from __future__ import annotations

import dataclasses
import time

import torch
from torch import nn

from metareg.host.contracts.benchmark import has_target_domain
from metareg.toolkit.stats import mean_ci95
from metareg.toolkit.tasks import seed_hash, torch_generator

#: episodes per domain (half fit the discriminator, half score it)
EPISODES = 20
#: the discriminator's hidden widths: DANN's default (``adversary.dann.hidden``)
HIDDEN = (256, 256)
#: Adam steps, their learning rate and mini-batch (drawn from the fitting half with the probe's seed)
STEPS = 200
LR = 1e-3
BATCH = 256


def paired_source(benchmark):
    """A copy of ``benchmark`` whose test episodes are in the other domain (``test_domain`` flipped), or None when
    the benchmark declares no ``test_domain`` or cannot serve the other value (glyph-world's script domains)."""
    from metareg.errors import ConfigError

    config = benchmark.config
    if not dataclasses.is_dataclass(config) or "test_domain" not in {f.name for f in dataclasses.fields(config)}:
        return None
    other = "source" if config.test_domain == "target" else "target"
    try:
        return type(benchmark)(dataclasses.replace(config, test_domain=other))
    except ConfigError:
        return None


@torch.no_grad()
def _features(learner, benchmark, split: str, generator: torch.Generator, device) -> torch.Tensor:
    """``[EPISODES, S + Q, F]``: each of ``EPISODES`` episodes of ``split``, its support and query inputs embedded
    in one call."""
    batch = benchmark.sample(split, EPISODES, generator).to(device)
    return torch.stack([learner.features(torch.cat([sx, qx])) for sx, qx in zip(batch.support_x, batch.query_x)])


def fit_and_score(source: torch.Tensor, target: torch.Tensor, seed: int) -> dict:
    """Fit a fresh discriminator on the first half of ``source``/``target`` episodes ``[E, N, F]`` and score it
    on the second half: ``{"mean", "ci95", "n"}`` over held-out episode pairs."""
    half = source.shape[0] // 2
    fit_x = torch.cat([source[:half].flatten(0, 1), target[:half].flatten(0, 1)]).float()
    fit_y = torch.cat([torch.zeros(half * source.shape[1]), torch.ones(half * target.shape[1])]).to(fit_x.device)
    mean, std = fit_x.mean(0), fit_x.std(0).clamp_min(1e-6)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_hash(seed, "domain-probe", "init"))
        widths = [fit_x.shape[1], *HIDDEN]
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        model = nn.Sequential(*layers, nn.Linear(widths[-1], 1)).to(fit_x.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    z = (fit_x - mean) / std
    draws = torch_generator(seed, "domain-probe", "batches")
    with torch.enable_grad():
        for _ in range(STEPS):
            pick = torch.randint(len(z), (min(BATCH, len(z)),), generator=draws).to(z.device)
            optimiser.zero_grad(set_to_none=True)
            loss = nn.functional.binary_cross_entropy_with_logits(model(z[pick]).squeeze(1), fit_y[pick])
            loss.backward()
            optimiser.step()
    scores = []
    with torch.no_grad():
        for s, t in zip(source[half:], target[half:]):
            right = torch.cat([model((s.float() - mean) / std).squeeze(1) < 0,
                               model((t.float() - mean) / std).squeeze(1) > 0])
            scores.append(right.float().mean().item())
    return mean_ci95(scores).as_dict()


def domain_probe(learner, benchmark, seed: int, device) -> dict | None:
    """The probe's held-out accuracy for a trained ``learner`` on ``benchmark`` (module docstring), or None for a
    benchmark without a target domain."""
    if not has_target_domain(benchmark, seed):
        return None
    start = time.perf_counter()
    was_training = learner.training
    learner.eval()
    try:
        other = paired_source(benchmark)
        if other is not None:
            here = _features(learner, benchmark, "test", torch_generator(seed, "domain-probe", "episodes"), device)
            there = _features(learner, other, "test", torch_generator(seed, "domain-probe", "episodes"), device)
            source, target = (there, here) if benchmark.config.test_domain == "target" else (here, there)
        else:
            gen = torch_generator(seed, "domain-probe", "episodes")
            source = _features(learner, benchmark, "val", gen, device)
            target = _features(learner, benchmark, "test", gen, device)
        return fit_and_score(source, target, seed) | {"seconds": time.perf_counter() - start}
    finally:
        learner.train(was_training)
