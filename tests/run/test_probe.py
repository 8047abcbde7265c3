"""The post-hoc alignment probe (metareg.run.probe): a fresh discriminator scored only on features it never fitted,
stored beside the task metric of every run on a benchmark with a target domain, and nowhere else."""
from __future__ import annotations

import torch

from helpers.runs import TINY, json_lines
from metareg.run import probe
from metareg.toolkit.metrics import PROBE, task_metric_name
from metareg_plugins.digits_shift import DigitsShift


def _normal(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_separable_domains_score_near_one_and_one_distribution_near_chance():
    source, target = _normal(10, 40, 8, seed=0), _normal(10, 40, 8, seed=1)
    assert probe.fit_and_score(source, target + 2.0, seed=0)["mean"] > 0.95
    assert abs(probe.fit_and_score(source, target, seed=0)["mean"] - 0.5) < 0.15


def test_the_score_comes_from_held_out_episodes_only():
    """Fitting halves that separate perfectly, scoring halves from one distribution: a probe scored on its own
    fitting features would read ~1; on the held-out ones it reads chance."""
    source, target = _normal(10, 40, 8, seed=2), _normal(10, 40, 8, seed=3)
    source[:5] += 3.0
    target[:5] -= 3.0
    score = probe.fit_and_score(source, target, seed=0)
    assert abs(score["mean"] - 0.5) < 0.15 and score["n"] == 5


def test_the_probe_is_seeded():
    source, target = _normal(10, 20, 4, seed=4), _normal(10, 20, 4, seed=5) + 0.5
    assert probe.fit_and_score(source, target, seed=3) == probe.fit_and_score(source, target, seed=3)


def test_a_benchmark_with_test_domain_is_probed_on_the_same_test_classes_in_the_other_domain():
    bench = DigitsShift(DigitsShift.Config(image_size=16))
    other = probe.paired_source(bench)
    assert other.config.test_domain == "source" and other.indices["test"] == bench.indices["test"]


def test_a_shift_run_stores_the_probe_after_its_task_metric_and_a_plain_run_none(run_cli):
    small = ["backbone.conv4.channels=4", "train.meta_batch_size=2"]
    code, out, err = run_cli("bench", "--learner", "protonet", "--benchmark", "digits-shift,digits", "--json",
                             "--quiet", *TINY, *small, "benchmark.digits-shift.image_size=16",
                             "benchmark.digits.image_size=16")
    assert code == 0, err
    by_bench = {r["parts"]["benchmark"]: r["metrics"] for r in json_lines(out)}
    shift = by_bench["digits-shift"]
    assert list(shift) == ["accuracy", PROBE] and 0 <= shift[PROBE]["mean"] <= 1
    assert shift[PROBE]["n"] == probe.EPISODES // 2 and shift[PROBE]["seconds"] > 0
    assert list(by_bench["digits"]) == ["accuracy"]


def test_the_task_metric_is_found_whatever_the_order_of_the_stored_metrics():
    assert task_metric_name({PROBE: {"mean": 0.9}, "accuracy": {"mean": 0.5}}) == "accuracy"
    assert task_metric_name({"mse": {"mean": 0.1}}) == "mse" and task_metric_name({}) is None
