"""``metareg plugins``: every installed part by family, the observers, duplicates, and plugins that failed to load.

An observer (a plugin implementing the run hooks, ``metareg_run_started`` and the others: the built-in
``tensorboard-log``) registers no part, so without its own section nothing would show it is installed and loaded.

``--check`` runs the runtime contract checks (``metareg.host.conformance``) on every installed part, or on the plugins,
distributions or parts named, and prints one row per part (plugin, family, part, distribution, version, result);
exit code 1 if any fails. A plugin that cannot load, or registers a name another distribution registers too, is a
failed row, never a crash. An observer gets a row too (family ``observer``): its one contract, hooks that match their
specs, is checked when it loads, so its row is how ``--check`` shows that it loaded.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import sys
from dataclasses import dataclass

from metareg.commands.common import load_registry
from metareg.errors import ConfigError, UnknownPartError
from metareg.host import families, hookspecs
from metareg.host.registry import BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP, REGISTRATION_HOOKS

NAME = "plugins"
#: the hooks an observer implements: every hook spec but the registration ones
OBSERVER_HOOKS = tuple(sorted(n for n in vars(hookspecs) if n.startswith("metareg_")
                              and n not in REGISTRATION_HOOKS.values()))


@dataclass(frozen=True)
class Observer:
    """A loaded plugin that implements observer hooks, and where it came from."""

    plugin: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    summary: str

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION


def observers(registry) -> list[Observer]:
    """Every loaded plugin implementing an observer hook, by plugin name (a plugin that also registers parts is
    listed among the parts too)."""
    dists = {ep.name: ep.dist for ep in md.entry_points(group=ENTRY_POINT_GROUP)}
    found = []
    for name, plugin in sorted(registry.pm.list_name_plugin(), key=lambda pair: pair[0]):
        hooks = tuple(sorted(c.name for c in registry.pm.get_hookcallers(plugin) or [] if c.name in OBSERVER_HOOKS))
        if not hooks:
            continue
        dist = dists.get(name)
        doc = (getattr(plugin, "__doc__", None) or "").strip().splitlines()
        found.append(Observer(name, dist.metadata["Name"] if dist else "(local)", dist.version if dist else "",
                              hooks, doc[0].replace("``", "") if doc else ""))
    return found


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
            "observers": [{"plugin": o.plugin, "distribution": o.distribution, "version": o.version,
                           "builtin": o.builtin, "hooks": list(o.hooks), "summary": o.summary}
                          for o in observers(registry)],
            "failures": [f.__dict__ for f in registry.failures],
            "duplicates": [{"family": f, "name": n, "distributions": [i.distribution for i in infos]}
                           for (f, n), infos in registry.duplicates.items()],
        }
        print(json.dumps(listing, indent=2))
        return 0
    for family in families.NAMES:
        infos = sorted(registry.parts[family].values(), key=lambda i: i.name)
        _section(families.TITLES[family], registry,
                 [(i.name, _where(i), f"{('plugin ' + i.plugin):<22}  {i.summary}") for i in infos])
    _section("observers (plugins of the run hooks; they register no parts)", registry,
             [(o.plugin, _where(o), o.summary) for o in observers(registry)])
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


def _section(title: str, registry, rows: list[tuple[str, str, str]]) -> None:
    """One section of the listing: its title, then a row per entry (name, where it comes from, the rest)."""
    print(f"{title}:")
    if not rows:
        print("  (none loaded)" if registry.left_out or registry.blocked else "  (none installed)")
    width = max((len(name) for name, _, _ in rows), default=0)
    for name, where, rest in rows:
        print(f"  {name.ljust(width)}  {where:<24}  {rest}")


def _where(item) -> str:
    return "built-in" if item.builtin else f"{item.distribution} {item.version}".strip()


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
    found = observers(registry)
    known = accepted_names(registry) | {o.plugin for o in found} | {o.distribution for o in found}
    for name in names:
        if name not in known:
            raise UnknownPartError("plugin", name, known)
    wanted = set(names)
    select = (lambda plugin, part, dist: bool(wanted & {plugin, part, dist})) if wanted else None
    progress = sys.stderr.isatty() and not args.json
    on_part = (lambda row: print(f"metareg: checked {row.family} {row.name}: {row.status}", file=sys.stderr)) \
        if progress else None
    report = check_registry(registry, select, config, on_part)
    report.parts += [_observer_row(o) for o in found if select is None or select(o.plugin, "", o.distribution)]
    if args.json:
        print(json.dumps({"ok": report.ok, "parts": report.rows()}, indent=2))
    else:
        print(report.table())
        for part in report.parts:  # the table shows one line per part; here is the rest of what it cut
            if _cut_by_table(part):
                print(f"\n{part.format()}")
        if any(p.family == "observer" for p in report.parts):
            print(f"\nobserver rows: {OBSERVER_NOTE}")
    return 0 if report.ok else 1


#: what an observer's ``--check`` row stands for
OBSERVER_NOTE = ("an observer has no runtime contract to run; its hooks' names and arguments were checked against "
                 "the hook specs when it loaded, and one that broke them is a failed row, not an observer row")


def _observer_row(obs: Observer):
    """An observer's row of the check table: loaded means its hooks met their specs (see ``OBSERVER_NOTE``)."""
    from metareg.host.conformance import PartReport

    return PartReport("observer", obs.plugin, obs.plugin, obs.distribution, obs.version,
                      checked=[f"hook {h}" for h in obs.hooks], notes=[OBSERVER_NOTE])


def _cut_by_table(part) -> bool:
    """Whether the table's one-line result leaves something out: a second broken clause, or the later lines of a
    multi-line error or skip reason (a dataset benchmark's expected folder layout, say)."""
    texts = [f.detail for f in part.failures] + [part.skipped or ""]
    return len(part.failures) > 1 or any("\n" in t.strip() for t in texts)
