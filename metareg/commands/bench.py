"""``metareg bench``: meta-train and meta-test one combination of parts and store the result."""
from __future__ import annotations

import argparse
import json

from metareg.commands.common import load_registry

NAME = "bench"


def add_parser(sub) -> argparse.ArgumentParser:
    bench = sub.add_parser(
        NAME,
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
    return bench


def run(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from metareg.config import load_yaml, parse_overrides, resolve
    from metareg.engine import Run
    from metareg.store import Store

    registry = load_registry()
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


