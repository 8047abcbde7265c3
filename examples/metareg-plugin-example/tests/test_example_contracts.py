"""The installed distribution: every part found through its entry points, each meeting its family's contract."""
from __future__ import annotations

import json
import subprocess
import sys

from metareg import Registry

PARTS = {("learner", "matchingnet"), ("adversary", "mmd"), ("backbone", "resnet12"),
         ("benchmark", "blobs-shift"), ("generator", "class-gaussian")}


def test_entry_points_register_one_part_of_each_family_under_this_distribution():
    registry = Registry.load(warn=False)
    mine = {(p.family, p.name) for p in registry.all_parts() if p.distribution == "metareg-plugin-example"}
    assert mine == PARTS
    assert not [f for f in registry.failures if f.distribution == "metareg-plugin-example"]


def test_every_part_meets_its_contract(metareg_check):
    report = metareg_check("metareg-plugin-example")
    assert {(p.family, p.name) for p in report.parts} == PARTS


def test_the_parts_run_together_from_the_command_line(tmp_path):
    """As a user runs it: the ``metareg`` command in its own process (``python -m metareg``, the console script's
    entry), which finds the parts through the installed entry points alone."""
    command = [sys.executable, "-m", "metareg", "bench", "--learner", "matchingnet", "--backbone", "resnet12",
               "--benchmark", "blobs-shift", "--adversary", "mmd", "--generator", "class-gaussian", "--quiet", "--json",
               "--store", str(tmp_path), "train.meta_iterations=3", "train.val_every=0", "train.test_tasks=4",
               "train.eval_batch_size=2", "train.meta_batch_size=2", "backbone.resnet12.channels=[4,8,8,16]"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "done", result
    assert result["parts"] == {"learner": "matchingnet", "backbone": "resnet12", "benchmark": "blobs-shift",
                               "adversary": "mmd", "generator": "class-gaussian"}
    assert 0.0 <= result["metrics"]["accuracy"]["mean"] <= 1.0
