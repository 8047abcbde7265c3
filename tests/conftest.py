"""Shared fixtures: the installed registry, a CLI runner, and settings that make runs take seconds."""
from __future__ import annotations

import json

import pytest

from metareg.host.registry import Registry

#: a run small enough for a test: a few outer updates, few test tasks
TINY = ["train.meta_iterations=3", "train.val_every=0", "train.test_tasks=6", "train.eval_batch_size=3"]
TINY_DIGITS = TINY + ["benchmark.digits.image_size=16", "backbone.conv4.channels=4", "train.meta_batch_size=2",
                      "benchmark.digits.n_query=2"]


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.load(warn=False)


@pytest.fixture
def run_cli(capsys, tmp_path, monkeypatch):
    """Run ``metareg ARGS`` in-process with a store in tmp_path; returns (exit code, stdout, stderr)."""
    from metareg.commands.cli import main

    monkeypatch.setenv("METAREG_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("METAREG_RAISE_ERRORS", raising=False)

    def run(*args: str):
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
