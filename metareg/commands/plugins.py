"""``metareg plugins``: every installed part by family, duplicates, and plugins that failed to load."""
from __future__ import annotations

import argparse
import json

from metareg.commands.common import load_registry

NAME = "plugins"

FAMILY_TITLES = {
    "benchmark": "benchmarks",
    "backbone": "backbones",
    "learner": "meta-learners",
    "adversary": "adversaries",
    "generator": "generators",
}


def add_parser(sub) -> argparse.ArgumentParser:
    plugins = sub.add_parser(NAME, help="list every installed part by family, and plugins that failed to load")
    plugins.add_argument("--json", action="store_true", help="machine-readable listing")
    return plugins


def run(args: argparse.Namespace) -> int:
    from metareg.contracts.check import FAMILIES

    registry = load_registry()
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


