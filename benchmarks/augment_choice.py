"""Choose a generator's ``n_aug`` and ``aug_weight`` from validation accuracy alone, never from a test metric.

    metareg bench --suite augment-val --workers 2 --store STORE
    python -m benchmarks.augment_choice --store STORE [--bn-store STORE2]

Why a script of its own: the leaderboard ranks on test accuracy, and a choice made there is the test-set selection
issue 29 removes (``aug_weight=0.1`` was once picked that way). This reads each finished run's *history* (the
validation points the engine logged) and nothing else: a cell's score is its best validation accuracy, the very
number the engine keeps weights by. For each generator it prints, per (``n_aug``, ``aug_weight``), each learner's
score minus the same learner's score without a generator, and their mean; the pick is the setting with the highest
mean. With ``--bn-store`` (runs of ``benchmarks.bn_statistics``) it adds the rows whose batch-norm statistics used
the real samples only, beside the weighted rows of the same settings.
"""
from __future__ import annotations

import argparse
import math
from collections import defaultdict

from metareg.store.database import Store


def best_validation(row, metric: str = "accuracy") -> float | None:
    """The highest ``val_<metric>`` point of a run's history (None without one): accuracy, where higher is better."""
    values = [entry[f"val_{metric}"] for entry in row.history or []
              if isinstance(entry.get(f"val_{metric}"), (int, float)) and math.isfinite(entry[f"val_{metric}"])]
    return max(values) if values else None


def setting(row) -> tuple[int, float] | None:
    """A generator run's (n_aug, aug_weight), read from its resolved config; None without a generator."""
    if not row.generator:
        return None
    c = row.config["generator"][row.generator]
    return int(c["n_aug"]), float(c["aug_weight"])


def scores(store: Store) -> tuple[dict, dict]:
    """(baseline[(learner, seed)], by_generator[generator][setting][(learner, seed)]) of best validation accuracy."""
    baseline, by_generator = {}, defaultdict(lambda: defaultdict(dict))
    for row in store.runs(status="done"):
        value = best_validation(row)
        if value is None:
            continue
        key = (row.learner, row.seed)
        if row.generator is None:
            baseline[key] = value
        else:
            by_generator[row.generator][setting(row)][key] = value
    return baseline, by_generator


def table(title: str, baseline: dict, grid: dict, marked: dict | None = None) -> tuple[str, tuple | None]:
    """A Markdown table of Δ validation accuracy vs no generator per setting, and the setting of the best mean."""
    learners = sorted({learner for cells in grid.values() for learner, _ in cells})
    lines = [f"#### {title}", "", "| n_aug | aug_weight | bn statistics | " + " | ".join(learners) + " | mean Δ |",
             "|---" * (len(learners) + 4) + "|"]
    best, best_mean = None, -math.inf
    rows = [(s, "weighted", cells) for s, cells in grid.items()]
    rows += [(s, "real only", cells) for s, cells in (marked or {}).items()]
    for s, stats, cells in sorted(rows, key=lambda r: (r[0], r[1] != "weighted")):
        deltas = []
        for learner in learners:
            pairs = [(v, baseline[k]) for k, v in cells.items() if k[0] == learner and k in baseline]
            deltas.append(sum(v - b for v, b in pairs) / len(pairs) if pairs else None)
        known = [d for d in deltas if d is not None]
        mean = sum(known) / len(known) if len(known) == len(learners) else None
        if mean is not None and mean > best_mean and stats == "weighted":
            best, best_mean = s, mean
        cols = " | ".join("—" if d is None else f"{d:+.3f}" for d in deltas)
        lines.append(f"| {s[0]} | {s[1]:g} | {stats} | {cols} | {'—' if mean is None else f'{mean:+.3f}'} |")
    return "\n".join(lines), best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="the store of `metareg bench --suite augment-val`")
    parser.add_argument("--bn-store", help="the store of benchmarks.bn_statistics (real-only batch-norm rows)")
    args = parser.parse_args(argv)
    baseline, by_generator = scores(Store(args.store, readonly=True))
    if not baseline:
        parser.error(f"{args.store} holds no finished run without a generator: run the augment-val suite first")
    real = scores(Store(args.bn_store, readonly=True))[1] if args.bn_store else {}
    sizes = {learner: v for (learner, _), v in baseline.items()}
    print("Best validation accuracy without a generator: "
          + ", ".join(f"{learner} {v:.3f}" for learner, v in sorted(sizes.items())))
    for generator in sorted(by_generator):
        text, best = table(f"{generator}: Δ best validation accuracy vs no generator", baseline,
                           by_generator[generator], real.get(generator))
        print("\n" + text)
        if best is not None:
            print(f"\nchosen for {generator} on validation: n_aug={best[0]} aug_weight={best[1]:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
