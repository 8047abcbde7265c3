"""MT-GAN's training: the hinge GAN step on same-class pairs, and the Reptile outer loop over source domains.

Why Reptile and not MAML: a GAN step is a two-player update (a discriminator step, then a generator step against
the updated discriminator), so "the loss after k inner steps" that MAML would differentiate through is not one
well-defined objective, and second-order GAN gradients are costly and unstable. Reptile needs only the weights the
inner loop reaches: θ ← θ + ε · mean_i(φ_i − θ), with φ_i the generator *and* discriminator weights after
``inner_steps`` GAN steps on domain i (FIGR, Clouâtre & Demers 2019, meta-trains a GAN the same way). ε is annealed
linearly to 0 over the outer iterations, as in Nichol et al.'s few-shot experiments. The inner optimiser is Adam
with β1 = 0, β2 = 0.9 (the usual GAN setting), created fresh for each domain, as Reptile's analysis assumes.

The objective is the hinge loss (Lim & Ye 2017; Miyato et al. 2018) with a spectrally normalised discriminator:
L_D = E[max(0, 1 − D(x_real, x_ref))] + E[max(0, 1 + D(G(z, x_ref), x_ref))], L_G = −E[D(G(z, x_ref), x_ref)].
"""
from __future__ import annotations

import copy
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from metareg_plugins.mtgan.nets import GANPair

#: Adam's betas for every GAN step (β1 = 0: no momentum, which keeps the two-player game from oscillating)
BETAS = (0.0, 0.9)


def hinge_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_g_loss(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def pair_indices(labels: torch.Tensor, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` (reference, partner) index pairs into ``labels`` (CPU, [S]) of the same class.

    The partner is another sample of the reference's class when the class has one, else the reference itself (a
    1-shot support set has no second sample; the pair then only says "this is what the class looks like here").
    """
    refs = torch.randint(len(labels), (n,), generator=rng)
    same = labels[refs][:, None] == labels[None, :]
    alone = same.sum(1) == 1
    same[torch.arange(n), refs] = alone  # exclude the reference itself unless it is its class's only sample
    partners = torch.multinomial(same.float(), 1, generator=rng).squeeze(1)
    return refs, partners


def gan_steps(model: GANPair, x: torch.Tensor, labels: torch.Tensor, steps: int, lr: float, batch_size: int,
              rng: torch.Generator) -> dict[str, float]:
    """``steps`` hinge-loss GAN steps (discriminator, then generator) on pairs of ``x`` within each class of ``labels``.

    Returns the last step's losses. Adam is fresh on every call (Reptile's inner loop; per-task fine-tuning).
    """
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=BETAS)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=BETAS)
    labels = labels.cpu()
    if steps == 0:
        return {}
    for _ in range(steps):
        refs, partners = pair_indices(labels, batch_size, rng)
        refs, partners = refs.to(x.device), partners.to(x.device)
        ref, real = x[refs], x[partners]
        z = torch.randn(batch_size, model.z_dim, generator=rng).to(x.device)
        fake = model.generator(z, ref)
        scores = model.discriminator(torch.cat([real, fake.detach()]), torch.cat([ref, ref]))  # one call: cheaper
        d_loss = hinge_d_loss(scores[:batch_size], scores[batch_size:])
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = hinge_g_loss(model.discriminator(fake, ref))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}


def parameter_snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@torch.no_grad()
def reptile_update(meta: torch.nn.Module, adapted: Sequence[dict[str, torch.Tensor]], step_size: float) -> None:
    """θ ← θ + ε · mean_i(φ_i − θ) for every parameter of ``meta``, in place (Nichol et al. 2018, Algorithm 2)."""
    if not adapted:
        raise ValueError("reptile_update needs at least one adapted parameter set")
    for name, theta in meta.named_parameters():
        phi = torch.stack([a[name] for a in adapted]).mean(0)
        theta.add_(step_size * (phi - theta))


def step_size_at(iteration: int, iterations: int, initial: float) -> float:
    """ε at outer iteration ``iteration`` (0-based): linear from ``initial`` towards 0, never exactly 0."""
    return initial * (1 - iteration / iterations)


Domain = tuple[torch.Tensor, torch.Tensor]  # (inputs [n, *shape], class labels [n])


def meta_train(model: GANPair, sample_domains: Callable[[int], list[Domain]], iterations: int, meta_batch: int,
               inner_steps: int, inner_lr: float, step_size: float, batch_size: int, rng: torch.Generator,
               bar=None) -> list[dict]:
    """Reptile over GAN training: each outer iteration adapts a working copy to ``meta_batch`` domains from
    ``sample_domains`` and moves ``model`` towards the mean of the adapted weights. Returns the loss history.

    The spectral-norm power-iteration vectors (buffers, not parameters) are taken from the last adapted copy, so
    they keep tracking the current weights; Reptile averages parameters only.
    """
    work = copy.deepcopy(model)
    history: list[dict] = []
    for it in range(iterations):
        adapted, losses = [], []
        for x, labels in sample_domains(meta_batch):
            work.load_state_dict(model.state_dict())
            losses.append(gan_steps(work, x, labels, inner_steps, inner_lr, batch_size, rng))
            adapted.append(parameter_snapshot(work))
        reptile_update(model, adapted, step_size_at(it, iterations, step_size))
        with torch.no_grad():
            buffers = dict(work.named_buffers())
            for name, buf in model.named_buffers():
                buf.copy_(buffers[name])
        entry = {k: sum(d[k] for d in losses) / len(losses) for k in losses[0]}
        history.append({"iteration": it + 1, **entry})
        if bar is not None:
            bar.set_postfix({k: f"{v:.3f}" for k, v in entry.items()}, refresh=False)
            bar.update(1)
    return history
