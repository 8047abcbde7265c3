"""Versa: an amortisation network maps each class's support features to a distribution over its classifier weights."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

import metareg
from metareg import STRATEGIES, class_means, embed_tasks


class InferenceBlock(nn.Sequential):
    """Three dense layers, ELU between (Versa's ``inference_block``): pooled class feature -> one output head."""

    def __init__(self, in_features: int, hidden: int, out_features: int):
        super().__init__(
            nn.Linear(in_features, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
            nn.Linear(hidden, out_features),
        )


class Versa(metareg.MetaLearner):
    """Versa: amortised approximate inference of a linear classifier per task; no inner gradient loop.

    The backbone embeds a task's support and query inputs (in one call, so per-task batch norm sees the task, as
    for ProtoNet). For each class c, the mean support feature ν_c goes through four separate networks (three dense
    layers, ELU) giving the mean and log-variance of class c's weight vector w_c and bias b_c: q(w_c, b_c | ν_c) is
    a diagonal Gaussian, and since it depends on ν_c alone, class c's classifier depends only on class c's support
    samples (the context-independent approximation that lets one network serve any number of ways). The logits of a
    query feature f are Gaussian under q with mean f·μ_w + μ_b and variance f²·σ²_w + σ²_b; the local
    reparameterisation trick draws ``samples`` logit vectors from it. Training maximises the predictive
    log-likelihood, log (1/L) Σ_l p(y | logits_l) per query, averaged over queries and tasks (the paper's
    amortised ML-PIP objective). ``predict`` returns the log of the softmax probabilities averaged over ``samples``
    draws, so ``argmax`` is the Bayesian-average prediction.

    Classification only: the paper's amortised-inference scheme for few-shot learning is this per-class softmax
    head; its other application, ShapeNet view reconstruction, is a generative model of images given angles whose
    amortisation network and decoder do not reduce to the K-shot regression tasks of this package, and a
    regression head would be a new method rather than the paper's.

    Config:
        hidden: width of the amortisation networks' hidden layers (paper: d_theta = 256, also its feature size).
        samples: Monte Carlo draws of the logits per query, in training and at test (paper: L = 10).
        vectorize: auto | vmap | loop | grouped (how the backbone embeds the tasks; results are identical).

    References:
        Gordon, Bronskill, Bauer, Nowozin, Turner. "Meta-Learning Probabilistic Inference for Prediction".
        ICLR 2019. Table 2 (Omniglot 5-way 1-shot 99.70%, 20-way 1-shot 97.66%; mini-ImageNet 5-way 1-shot
        53.40%, 5-shot 67.37%); Appendix (amortisation network: three ELU layers of width d_theta per output).

    Example:
        metareg bench --learner versa --benchmark digits learner.versa.samples=10
    """

    name = "versa"
    task_kinds = ("classification",)

    @dataclass
    class Config:
        hidden: int = 256
        samples: int = 10
        vectorize: str = "auto"

    #: metareg tune's space: the amortisation network's width around the paper's 256 (it states no search range)
    search = {"hidden": metareg.Categorical(64, 128, 256, 512)}
    ranges = {"hidden": metareg.Range.at_least(1), "samples": metareg.Range.at_least(1),
              "vectorize": metareg.Choice(*STRATEGIES)}

    def __init__(self, backbone, spec, config):
        super().__init__(backbone, spec, config)
        d = backbone.feature_dim
        self.weight_mean = InferenceBlock(d, config.hidden, d)
        self.weight_log_variance = InferenceBlock(d, config.hidden, d)
        self.bias_mean = InferenceBlock(d, config.hidden, 1)
        self.bias_log_variance = InferenceBlock(d, config.hidden, 1)

    def embed(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        return embed_tasks(self.backbone, batch, self.config.vectorize)

    def classifier(self, support: torch.Tensor, support_y: torch.Tensor,
                   support_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """q's parameters per class: ``weight_mean``/``weight_log_variance`` ``[T, N, F]``, ``bias_*`` ``[T, N]``.

        ν_c is the (``support_weight``-weighted) mean of class c's support features."""
        nu = class_means(support, support_y, self.spec.n_outputs, support_weight)
        return {
            "weight_mean": self.weight_mean(nu),
            "weight_log_variance": self.weight_log_variance(nu),
            "bias_mean": self.bias_mean(nu).squeeze(-1),
            "bias_log_variance": self.bias_log_variance(nu).squeeze(-1),
        }

    @staticmethod
    def logit_moments(query: torch.Tensor, q: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance ``[T, Q, N]`` of the logits of ``query [T, Q, F]`` under q (local reparameterisation)."""
        mean = query @ q["weight_mean"].transpose(1, 2) + q["bias_mean"].unsqueeze(1)
        var = query.pow(2) @ q["weight_log_variance"].exp().transpose(1, 2) + q["bias_log_variance"].exp().unsqueeze(1)
        return mean, var

    def sampled_log_probs(self, batch) -> torch.Tensor:
        """Log-softmax of ``samples`` logit draws per query: ``[samples, T, Q, N]``."""
        support, query = self.embed(batch)
        mean, var = self.logit_moments(query, self.classifier(support, batch.support_y, batch.support_weight))
        noise = torch.randn((self.config.samples, *mean.shape), dtype=mean.dtype, device=mean.device)
        return torch.log_softmax(mean + var.sqrt() * noise, dim=-1)

    def meta_loss(self, batch):
        log_probs = self.sampled_log_probs(batch)
        target = batch.query_y.unsqueeze(0).unsqueeze(-1).expand(log_probs.shape[0], -1, -1, 1)
        log_lik = log_probs.gather(-1, target).squeeze(-1)  # [L, T, Q]
        log_predictive = torch.logsumexp(log_lik, dim=0) - math.log(log_lik.shape[0])  # [T, Q]
        averaged = torch.logsumexp(log_probs.detach(), dim=0) - math.log(log_probs.shape[0])
        accuracy = (averaged.argmax(-1) == batch.query_y).float().mean()
        return metareg.LearnerOutput(-log_predictive.mean(), {"accuracy": accuracy})

    def predict(self, batch):
        with torch.no_grad():
            log_probs = self.sampled_log_probs(batch)
            return torch.logsumexp(log_probs, dim=0) - math.log(log_probs.shape[0])


@metareg.hookimpl
def metareg_register_learners(register):
    register(Versa)
