"""DANN: align source and target features by training them to fool a domain discriminator."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

import metareg
from metareg import reverse_gradient


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """The paper's schedule λ_p = 2 / (1 + exp(−γ·p)) − 1, rising from 0 to ~1 as training progress p goes 0 → 1."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class DANN(metareg.Adversary):
    """Domain-adversarial training: a domain discriminator (an MLP on backbone features) behind a gradient-reversal
    layer. The discriminator learns to tell source-task features from unlabelled target features; the reversed
    gradient, scaled by λ, trains the backbone to make them indistinguishable. Because it sees only features it
    composes with every learner.

    The engine adds the domain loss (binary cross-entropy, source = 0, target = 1, equal numbers of each) to the
    meta-loss and steps one optimiser over learner and discriminator; the reversal sits between the backbone's
    features and the discriminator's first layer.

    Config:
        hidden: discriminator hidden widths (paper: 1024-1024 for Office, 100 for MNIST; 256-256 here).
        dropout: dropout in the discriminator (paper: 0.5 on Office).
        lambda_max: the final reversal weight λ.
        schedule: "dann" (λ_p = λ_max·(2/(1+exp(−γp))−1)) or "constant" (λ_max throughout).
        gamma: the schedule's γ (paper: 10).
        lr_multiplier: the discriminator's learning rate as a multiple of ``train.outer_lr``. 1, as in the paper's
            Algorithm 1 (one rate μ for features and domain classifier) and for networks trained from scratch in
            the reference reimplementations (Transfer-Learning-Library gives the discriminator 10× the rate of a
            *pre-trained* backbone, 1× that of the new layers); raise it for a discriminator that lags.
        discriminator_steps: discriminator updates per outer update. 1, as in the paper (the reversal trains both
            players in one step); k > 1 adds k − 1 updates of the discriminator alone before each outer update, on
            features of the same meta-batch and fresh target draws (the GAN recipe, not the paper's).

    Where it differs from the reference: Adam at ``train.outer_lr`` instead of SGD with momentum and the paper's
    annealed rate μ_p = μ_0 / (1 + 10p)^0.75 (the meta-learners' outer optimiser is Adam, and one optimiser steps
    learner and discriminator); features are those a meta-learner predicts from (its backbone before adaptation),
    taken from whole source episodes and, by default, from episode-shaped target draws (``train.target_draw``),
    each normalised on its own.

    References:
        Ganin et al. "Domain-Adversarial Training of Neural Networks". JMLR 2016. Eq. 13–14 (reversal), Sec. 5.2.2
        (schedule); Table 2 (MNIST → MNIST-M 0.52 → 0.77 with DANN).

    Example:
        metareg bench --learner protonet --benchmark digits-shift --adversary dann adversary.dann.lambda_max=0.5
    """

    name = "dann"

    @dataclass
    class Config:
        hidden: list[int] = field(default_factory=lambda: [256, 256])
        dropout: float = 0.0
        lambda_max: float = 1.0
        schedule: str = "dann"
        gamma: float = 10.0
        lr_multiplier: float = 1.0
        discriminator_steps: int = 1

    ranges = {"hidden": metareg.Range.at_least(1), "dropout": metareg.Range.at_least(0) & metareg.Range.below(1),
              "lambda_max": metareg.Range.at_least(0), "gamma": metareg.Range.above(0),
              "schedule": metareg.Choice("dann", "constant"), "lr_multiplier": metareg.Range.above(0),
              "discriminator_steps": metareg.Range.at_least(1).multiple_of(1)}
    #: at these values DANN trains as it did before the settings existed, so stored DANN runs keep their ids
    added_settings = {"lr_multiplier": 1.0, "discriminator_steps": 1}
    #: metareg tune's space: the reversal weight from 0.03 to the paper's 1.0 (its schedule's end point), and the
    #: discriminator's rate a decade either side of the shared one (the reference states no search range)
    search = {"lambda_max": metareg.LogUniform(0.03, 1.0), "lr_multiplier": metareg.LogUniform(0.1, 10.0)}

    def __init__(self, feature_dim, config):
        super().__init__(feature_dim, config)
        layers: list[nn.Module] = []
        width = feature_dim
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()] + ([nn.Dropout(config.dropout)] if config.dropout else [])
            width = h
        self.discriminator = nn.Sequential(*layers, nn.Linear(width, 1))

    def weight(self, progress: float) -> float:
        if self.config.schedule == "constant":
            return self.config.lambda_max
        return self.config.lambda_max * dann_lambda(progress, self.config.gamma)

    def forward(self, source, target, progress):
        lam = self.weight(progress)
        features = torch.cat([source, target])
        domains = torch.cat([source.new_zeros(len(source)), source.new_ones(len(target))])
        logits = self.discriminator(reverse_gradient(features, lam)).squeeze(-1)
        loss = F.binary_cross_entropy_with_logits(logits, domains)
        accuracy = ((logits > 0).float() == domains).float().mean()
        return metareg.AdversaryOutput(loss, {"domain_accuracy": accuracy.detach(),
                                              "lambda": torch.tensor(lam)})


@metareg.hookimpl
def metareg_register_adversaries(register):
    register(DANN)
