"""DANN: the reversal layer, the schedule, features that stop being separable, and composition with every learner."""
from __future__ import annotations

import math

import pytest
import torch

from metareg.toolkit.layers import reverse_gradient
from metareg_plugins.backbones import MLP
from metareg_plugins.dann import DANN, dann_lambda

from helpers.runs import TINY_DIGITS, json_lines


@pytest.mark.parametrize("lam", [0.0, 0.37, 1.0, 5.0])
def test_reversal_backward_is_exactly_minus_lambda_times_the_gradient(lam):
    x = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(7, 3, dtype=torch.float64)
    y = reverse_gradient(x, lam)
    assert torch.equal(y, x)
    (grad,) = torch.autograd.grad(y, x, upstream)
    assert torch.equal(grad, -lam * upstream)


def test_schedule_follows_the_paper():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_lambda(0.1) == pytest.approx(2 / (1 + math.exp(-1)) - 1)
    adv = DANN(4, DANN.Config(lambda_max=0.5, schedule="constant"))
    assert adv.weight(0.0) == adv.weight(1.0) == 0.5


def _probe_accuracy(features_fn, source, target, steps=300) -> float:
    """Separability of the two domains' features: accuracy of a fresh logistic-regression-like probe."""
    torch.manual_seed(1)
    with torch.no_grad():
        f = torch.cat([features_fn(source), features_fn(target)])
    labels = torch.cat([torch.zeros(len(source)), torch.ones(len(target))])
    probe = torch.nn.Sequential(torch.nn.Linear(f.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    opt = torch.optim.Adam(probe.parameters(), 1e-2)
    for _ in range(steps):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(probe(f).squeeze(-1), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return ((probe(f).squeeze(-1) > 0).float() == labels).float().mean().item()


def _train(lambda_max: float) -> tuple[float, float, list[float]]:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(256, 2, generator=gen)
    target = torch.randn(256, 2, generator=gen) + torch.tensor([2.5, 0.0])
    backbone = MLP((2,), MLP.Config(hidden=[16, 8]))
    adversary = DANN(8, DANN.Config(hidden=[32], lambda_max=lambda_max, schedule="constant"))
    before = _probe_accuracy(backbone, source, target)
    opt = torch.optim.Adam(list(backbone.parameters()) + list(adversary.parameters()), 1e-2)
    accuracies = []
    for step in range(400):
        out = adversary(backbone(source), backbone(target), step / 399)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        accuracies.append(out.metrics["domain_accuracy"].item())
    return before, _probe_accuracy(backbone, source, target), accuracies


def test_adversarial_training_makes_the_domains_inseparable():
    before, after, accuracies = _train(lambda_max=1.0)
    _, control, control_acc = _train(lambda_max=0.0)
    assert before > 0.85 and control > 0.85  # a shift of 2.5 standard deviations is easy to detect
    assert after < 0.7  # the features were moved until a fresh discriminator can barely tell the domains apart
    assert sum(accuracies[-50:]) / 50 < sum(control_acc[-50:]) / 50 - 0.15


def test_dann_composes_with_every_classification_learner(registry, run_cli):
    learners = [n for n in registry.names("learner")
                if "classification" in registry.get("learner", n).cls.task_kinds]
    assert {"maml", "protonet"} <= set(learners)
    for learner in learners:
        overrides = [s.replace("benchmark.digits.", "benchmark.digits-shift.") for s in TINY_DIGITS]
        code, out, err = run_cli("bench", "--learner", learner, "--benchmark", "digits-shift", "--adversary", "dann",
                                 "--json", "--quiet", *overrides)
        assert code == 0, (learner, err)
        [result] = json_lines(out)
        assert result["status"] == "done", (learner, result["error"])


def test_dann_on_regression_learners(registry, run_cli):
    for learner in [n for n in registry.names("learner") if "regression" in registry.get("learner", n).cls.task_kinds]:
        code, out, err = run_cli("bench", "--learner", learner, "--benchmark", "sinusoid-shift", "--adversary", "dann",
                                 "--json", "--quiet", "train.meta_iterations=3", "train.val_every=0",
                                 "train.test_tasks=4")
        assert code == 0 and json_lines(out)[0]["status"] == "done", (learner, err)


def test_json_output_carries_the_adversarys_last_logged_metrics(run_cli):
    overrides = [s.replace("benchmark.digits.", "benchmark.digits-shift.") for s in TINY_DIGITS]
    code, out, err = run_cli("bench", "--learner", "protonet", "--benchmark", "digits-shift", "--adversary", "dann",
                             "--json", "--quiet", *overrides)
    assert code == 0, err
    [result] = json_lines(out)
    last = result["last_logged"]
    assert last["iteration"] == 3 and 0 <= last["adversary_domain_accuracy"] <= 1 and "adversary_loss" in last
