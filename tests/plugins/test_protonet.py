"""ProtoNet's logits against a direct computation, and a short run that learns digits well above chance."""
from __future__ import annotations

import torch

from metareg.toolkit.tasks import TaskBatch, TaskSpec
from metareg_plugins.backbones import MLP
from metareg_plugins.protonet import ProtoNet, prototype_logits

from helpers.runs import json_lines


def test_prototype_logits_equal_direct_squared_distances():
    torch.manual_seed(0)
    support = torch.randn(2, 6, 4, dtype=torch.float64)
    labels = torch.tensor([[0, 1, 2, 0, 1, 2], [2, 2, 0, 0, 1, 1]])
    query = torch.randn(2, 5, 4, dtype=torch.float64)
    logits = prototype_logits(support, labels, query, 3)
    for t in range(2):
        for c in range(3):
            prototype = support[t][labels[t] == c].mean(0)
            for q in range(5):
                direct = -((query[t, q] - prototype) ** 2).sum()
                assert torch.allclose(logits[t, q, c], direct, atol=1e-12)


def test_protonet_vmap_and_loop_agree():
    torch.manual_seed(0)
    spec = TaskSpec("classification", (3,), 2, k_shot=2, n_query=1, n_way=2)
    y = torch.tensor([[0, 0, 1, 1]] * 3)
    batch = TaskBatch(torch.randn(3, 4, 3), y, torch.randn(3, 2, 3), torch.tensor([[0, 1]] * 3))
    backbone = MLP((3,), MLP.Config(hidden=[5]))
    a = ProtoNet(backbone, spec, ProtoNet.Config(vectorize="vmap")).logits(batch)
    b = ProtoNet(backbone, spec, ProtoNet.Config(vectorize="loop")).logits(batch)
    assert torch.allclose(a, b, atol=1e-6)


def test_protonet_on_digits_learns_far_above_chance(run_cli):
    code, out, _ = run_cli(
        "bench", "--learner", "protonet", "--benchmark", "digits", "--json", "--quiet",
        "benchmark.digits.image_size=16", "backbone.conv4.channels=16", "train.meta_iterations=40",
        "train.val_every=0", "train.test_tasks=60", "train.eval_batch_size=20",
    )
    assert code == 0
    accuracy = json_lines(out)[0]["metrics"]["accuracy"]
    assert accuracy["n"] == 60
    assert accuracy["mean"] - accuracy["ci95"] > 0.35  # 5-way chance is 0.2
