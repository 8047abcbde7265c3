"""What the post-hoc alignment probe costs: its own wall time as a share of each run's, read from a results store.

    python -m benchmarks.probe_cost --store STORE

Why from a store and not a timing loop: the probe runs once per run, after the test episodes, so its share of a
run depends on everything the run does (the benchmark, the learner's test-time adaptation, the budget). Every run
records the probe's seconds beside its accuracy (``metareg.run.probe``), so the real runs of a suite are the
measurement. The target (issue 28) is under 10% of a run's wall time. Shares from a machine running other jobs
are only indicative: the probe and the rest of the run may have met different loads.
"""
from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from metareg.store.database import Store
from metareg.toolkit.metrics import PROBE


def shares(store: Store) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(benchmark, learner) -> [(probe seconds, run wall seconds)] over finished runs that have a probe."""
    out = defaultdict(list)
    for row in store.runs(status="done"):
        probe = (row.metrics or {}).get(PROBE)
        if probe and probe.get("seconds") is not None and row.wall_time:
            out[(row.benchmark, row.learner)].append((probe["seconds"], row.wall_time))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    args = parser.parse_args(argv)
    found = shares(Store(args.store, readonly=True))
    if not found:
        parser.error(f"{args.store} holds no finished run with a probe (a run on a benchmark with a target domain)")
    print("| benchmark | learner | runs | probe s (median) | run s (median) | probe share (median) | (max) |")
    print("|---|---|---|---|---|---|---|")
    for (bench, learner), pairs in sorted(found.items()):
        share = [p / w for p, w in pairs]
        print(f"| {bench} | {learner} | {len(pairs)} | {statistics.median(p for p, _ in pairs):.2f} | "
              f"{statistics.median(w for _, w in pairs):.1f} | {100 * statistics.median(share):.1f}% | "
              f"{100 * max(share):.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
