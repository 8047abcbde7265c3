"""``metareg plugins``: every installed part by family, duplicates, and plugins that failed to load.

``--check`` runs the runtime contract checks (``metareg.host.conformance``) on every installed part, or on the plugins,
distributions or parts named, and prints one row per part (plugin, family, part, distribution, version, result);
exit code 1 if any fails. A plugin that cannot load, or registers a name another distribution registers too, is a
failed row, never a crash.
"""
from __future__ import annotations

import argparse
import json
import sys

from metareg.commands.common import load_registry
from metareg.errors import ConfigError, UnknownPartError
from metareg.host import families

NAME = "plugins"



def add_parser(sub) -> argparse.ArgumentParser:
    plugins = sub.add_parser(NAME, help="list every installed part by family, and plugins that failed to load")
    plugins.add_argument("--json", action="store_true", help="machine-readable listing")
    plugins.add_argument("--check", action="store_true",
                         help="run the contract checks on every installed part (or on NAMEs); exit 1 if any fails")
    plugins.add_argument("targets", nargs="*", metavar="NAME|key=value",
                         help="with --check: plugins, distributions or parts to check, and config overrides of a "
                              "part, e.g. benchmark.folder.path=~/data/omniglot")
    return plugins


def run(args: argparse.Namespace) -> int:
    if args.targets and not args.check:
        raise ConfigError("names and key=value settings are for --check, e.g. `metareg plugins --check maml`")
    registry = load_registry()
    if args.check:
        return check(registry, args)
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
    for family in families.NAMES:
        print(f"{families.TITLES[family]}:")
        infos = sorted(registry.parts[family].values(), key=lambda i: i.name)
        if not infos:
            print("  (none loaded)" if registry.left_out or registry.blocked else "  (none installed)")
        width = max((len(i.name) for i in infos), default=0)
        for info in infos:
            where = "built-in" if info.builtin else f"{info.distribution} {info.version}".strip()
            print(f"  {info.name.ljust(width)}  {where:<24}  {('plugin ' + info.plugin):<22}  {info.summary}")
    if registry.duplicates:
        print("duplicate names (unusable until one is blocked: METAREG_BLOCK_PLUGINS=DISTRIBUTION:NAME, or the "
              "plugin's name):")
        for (family, name), infos in registry.duplicates.items():
            print(f"  {family} {name!r}: " + " and ".join(i.origin for i in infos))
    if registry.left_out:
        print("left out by METAREG_LOAD_PLUGINS: " + ", ".join(registry.left_out))
    if registry.blocked:
        print("blocked by METAREG_BLOCK_PLUGINS: " + ", ".join(registry.blocked))
    if registry.failures:
        print("plugins that failed to load:")
        for failure in registry.failures:
            print(f"  {failure.line()}")
            for tb_line in failure.traceback.strip().splitlines()[-6:]:
                print(f"      {tb_line}")
    return 0


def check(registry, args: argparse.Namespace) -> int:
    """The contract checks as a table (or JSON rows); 1 if any part fails, 0 otherwise (skipped parts included)."""
    from metareg.run.config import parse_overrides
    from metareg.host.conformance import check_registry
    from metareg.host.conformance.run import accepted_names

    names = [t for t in args.targets if "=" not in t]
    config: dict[str, dict] = {}
    for key, value in parse_overrides([t for t in args.targets if "=" in t]):
        parts = key.split(".")
        if len(parts) != 3:
            raise ConfigError(f"check setting {key!r} must be <family>.<part>.<key>=value, "
                              f"e.g. benchmark.folder.path=~/data/omniglot")
        config.setdefault(f"{parts[0]}.{parts[1]}", {})[parts[2]] = value
    known = accepted_names(registry)
    for name in names:
        if name not in known:
            raise UnknownPartError("plugin", name, known)
    wanted = set(names)
    select = (lambda plugin, part, dist: bool(wanted & {plugin, part, dist})) if wanted else None
    progress = sys.stderr.isatty() and not args.json
    on_part = (lambda row: print(f"metareg: checked {row.family} {row.name}: {row.status}", file=sys.stderr)) \
        if progress else None
    report = check_registry(registry, select, config, on_part)
    if args.json:
        print(json.dumps({"ok": report.ok, "parts": report.rows()}, indent=2))
    else:
        print(report.table())
        for part in report.failed:  # the table shows each part's first broken clause; here are all of them
            if len(part.failures) > 1:
                print(f"\n{part.format()}")
    return 0 if report.ok else 1
