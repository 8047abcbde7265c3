"""The GPU check's CPU-safe part: its flags, the dry-run report, and a failed or late check not stopping the rest."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from benchmarks.gpu_check.checks import CHECKS, Context, guarded
from benchmarks.gpu_check.cli import main


def test_help_lists_every_check():
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert all(name in done.stdout for name, _, _ in CHECKS)


def test_a_dry_run_writes_a_report_naming_every_check(tmp_path, capsys):
    out = tmp_path / "report.md"
    assert main(["--dry-run", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# metareg GPU check") and f"torch: {torch.__version__}" in text
    assert all(f"| {name} | skipped | dry run" in text for name, _, _ in CHECKS)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_check_says_so_and_fails(tmp_path):
    out = tmp_path / "report.md"
    assert main(["--out", str(out)]) == 1
    assert "torch sees no CUDA GPU" in out.read_text()


def test_a_failing_check_becomes_an_error_row_and_a_late_one_is_skipped(tmp_path):
    ctx = Context("cuda", time.monotonic() + 100, tmp_path)

    def broken(_ctx):
        raise ValueError("boom")

    outcome = guarded("broken", broken, ctx, needs=1)
    assert outcome.status == "error" and "ValueError: boom" in outcome.summary
    late = guarded("late", broken, ctx, needs=1000)
    assert late.status == "skipped" and "needs ~1000" in late.summary
