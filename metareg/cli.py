"""The ``metareg`` command: ``bench`` trains and evaluates a combination of parts, ``plugins`` lists them.

Every ``MetaregError`` becomes one line on stderr and exit code 2 (``METAREG_RAISE_ERRORS=1`` re-raises it for
debugging); a run that fails after it started is stored as failed and exits 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from metareg.errors import MetaregError

FAMILY_TITLES = {
    "benchmark": "benchmarks",
    "backbone": "backbones",
    "learner": "meta-learners",
    "adversary": "adversaries",
    "generator": "generators",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metareg",
        description="Meta-learning under domain shift: combine learners, adversaries, generators and benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = sub.add_parser(
        "bench",
        help="meta-train and evaluate one combination of parts, and store the result",
        description="Meta-train and meta-test one combination; settings as key=value, e.g. learner.maml.inner_lr=0.4",
    )
    bench.add_argument("--learner", help="meta-learner (default: maml)")
    bench.add_argument("--benchmark", help="task source (default: sinusoid)")
    bench.add_argument("--backbone", help="feature extractor (default: the benchmark's)")
    bench.add_argument("--adversary", help="domain-alignment loss, or none")
    bench.add_argument("--generator", help="support-set generator, or none")
    bench.add_argument("--device", help="auto (a GPU when torch sees one), cpu, cuda or cuda:N")
    bench.add_argument("--seed", type=int, help="run seed (default 0)")
    bench.add_argument("--config", action="append", default=[], metavar="FILE", help="YAML config file(s)")
    bench.add_argument("--store", metavar="PATH", help="results store folder (default ./metareg-results, or $METAREG_STORE)")
    bench.add_argument("--json", action="store_true", help="print one JSON object per finished run on stdout")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    bench.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")

    plugins = sub.add_parser("plugins", help="list every installed part by family, and plugins that failed to load")
    plugins.add_argument("--json", action="store_true", help="machine-readable listing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "bench":
            return _bench(args)
        return _plugins(args)
    except MetaregError as exc:
        if os.environ.get("METAREG_RAISE_ERRORS") == "1":
            raise
        print(f"metareg: error: {exc}", file=sys.stderr)
        return 2


def _registry():
    from metareg.registry import Registry

    registry = Registry.load(warn=False)
    for failure in registry.failures:
        print(f"metareg: warning: {failure.line()} (see `metareg plugins`)", file=sys.stderr)
    return registry


def _bench(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from metareg.config import load_yaml, parse_overrides, resolve
    from metareg.engine import Run
    from metareg.store import Store

    registry = _registry()
    settings = [s for path in args.config for s in load_yaml(path)] + parse_overrides(args.overrides)
    selectors = {k: getattr(args, k) for k in ("learner", "benchmark", "backbone", "adversary", "generator", "device",
                                               "seed")}
    cfg, selection = resolve(registry, settings, selectors)
    if args.print_config:
        print(OmegaConf.to_yaml(cfg), end="")
        return 0
    run = Run(cfg, selection, registry)  # every part is built before anything is stored
    store = Store(args.store)
    result = run.execute(progress=not args.quiet, store=store)
    if args.json:
        print(json.dumps(result.as_json()), flush=True)
    else:
        print(format_results([result]))
        print(f"stored as run {result.run_id} in {store.path}")
    return 0 if result.status == "done" else 1


def format_results(results) -> str:
    """A plain-text table of finished runs: parts, seed, each metric as mean ± 95% CI (n), wall time."""
    from metareg.stats import Estimate

    header = ["learner", "backbone", "benchmark", "adversary", "generator", "seed", "metric", "mean ± 95% CI (n)",
              "wall s", "status"]
    rows = []
    for r in results:
        base = [r.parts["learner"], r.parts["backbone"], r.parts["benchmark"], r.parts["adversary"] or "—",
                r.parts["generator"] or "—", str(r.seed)]
        tail = [f"{r.wall_time:.1f}", r.status if not r.error else f"{r.status}: {r.error}"]
        if not r.metrics:
            rows.append(base + ["—", "—"] + tail)
        for name, m in r.metrics.items():
            rows.append(base + [name, Estimate(m["mean"], m["ci95"], m["n"]).format(4)] + tail)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _plugins(args: argparse.Namespace) -> int:
    from metareg.contracts.check import FAMILIES

    registry = _registry()
    if args.json:
        listing = {
            "parts": [
                {"family": p.family, "name": p.name, "plugin": p.plugin, "distribution": p.distribution,
                 "version": p.version, "builtin": p.builtin, "summary": p.summary}
                for p in registry.all_parts()
            ],
            "failures": [f.__dict__ for f in registry.failures],
            "duplicates": [{"family": f, "name": n, "distributions": [i.distribution for i in infos]}
                           for (f, n), infos in registry.duplicates.items()],
        }
        print(json.dumps(listing, indent=2))
        return 0
    for family in FAMILIES:
        print(f"{FAMILY_TITLES[family]}:")
        infos = sorted(registry.parts[family].values(), key=lambda i: i.name)
        if not infos:
            print("  (none installed)")
        width = max((len(i.name) for i in infos), default=0)
        for info in infos:
            where = "built-in" if info.builtin else f"{info.distribution} {info.version}".strip()
            print(f"  {info.name.ljust(width)}  {where:<24}  {info.summary}")
    if registry.duplicates:
        print("duplicate names (unusable until one is removed):")
        for (family, name), infos in registry.duplicates.items():
            print(f"  {family} {name!r}: " + " and ".join(i.origin for i in infos))
    if registry.failures:
        print("plugins that failed to load:")
        for failure in registry.failures:
            print(f"  {failure.line()}")
            for tb_line in failure.traceback.strip().splitlines()[-6:]:
                print(f"      {tb_line}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
