"""Run bench cells with batch norm's statistics taken from the real samples only, to set beside weighted statistics.

    python -m benchmarks.bn_statistics --store STORE -- BENCH-ARGS...
    python -m benchmarks.augment_choice --store AUGMENT-VAL-STORE --bn-store STORE

Why: issue 29 left two ways to keep generated support samples from moving the statistics every real sample is
normalised by, weighted statistics (each sample counts its ``support_weight``; metareg's choice, see
``metareg.toolkit.sample_weights``) and statistics of the real samples alone, and asked for both to be measured.
Both agree at ``aug_weight`` 0 and 1 (at 1 a generated sample is real to the statistics under either), so the
comparison only means something in between.

How: every weighted batch-norm path of the toolkit ends in one of two functions,
``metareg.toolkit.layers.weighted_moments`` (``TaskBatchNorm`` inside ``metareg.batch_norm_weights``) and
``metareg.toolkit.grouped._weighted_batch_norm`` (the grouped layout). This script wraps both so that a sample
below weight 1 gets weight 0 in the statistics (the loss still weighs it by ``support_weight``), then runs
``metareg bench BENCH-ARGS`` in this process (one worker: a spawned worker would not see the wrapping). The run's
config hash cannot tell the two apart, so the runs go to a store of their own; the script refuses a store that
already holds runs made without it (one it did not mark).
"""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

import torch

from metareg.commands.cli import main as metareg_main
from metareg.toolkit import grouped, layers

#: the file beside a store that says this script made its runs
MARKER = "bn-statistics-real-only"


def real_only(weights: torch.Tensor) -> torch.Tensor:
    """Weight 1 for a sample of full weight (a real support sample, a query), 0 for anything below."""
    return (weights >= 1).to(weights.dtype)


def install() -> None:
    """Wrap the two weighted batch-norm functions so their statistics count the real samples only."""
    moments, grouped_norm = layers.weighted_moments, grouped._weighted_batch_norm

    @functools.wraps(moments)
    def real_moments(x, weights):
        return moments(x, real_only(weights))

    @functools.wraps(grouped_norm)
    def real_grouped(h, weight, gamma, beta, eps):
        return grouped_norm(h, real_only(weight), gamma, beta, eps)

    layers.weighted_moments, grouped._weighted_batch_norm = real_moments, real_grouped


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a store for these runs only (a folder)")
    parser.add_argument("bench", nargs=argparse.REMAINDER, help="-- then metareg bench's arguments")
    args = parser.parse_args(argv)
    bench = args.bench[1:] if args.bench[:1] == ["--"] else args.bench
    if any(a == "--workers" or a.startswith("--workers=") or a in ("--executor", "--store") for a in bench):
        parser.error("give neither --workers, --executor nor --store after --: the cells run in this process, "
                     "in the store given by this script's --store")
    folder = Path(args.store)
    marker = folder / MARKER
    if (folder / "results.sqlite").exists() and not marker.exists():
        parser.error(f"{folder} holds runs not made by this script; give a new folder so that weighted-statistics "
                     f"runs, which share their config hashes, never mix with these")
    folder.mkdir(parents=True, exist_ok=True)
    marker.touch()
    install()
    return metareg_main(["bench", *bench, "--store", str(folder)])


if __name__ == "__main__":
    raise SystemExit(main())
