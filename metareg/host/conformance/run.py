"""Running the runtime contract checks on parts, on a plugin, on everything installed; the report they make.

Why a report and not an exception: ``metareg plugins --check`` must show every part's outcome even when some
plugins are broken, and a plugin author wants every broken clause at once, not the first. Registry failures (a
plugin that raised on import, a hook pluggy rejected, a class that broke its contract at registration, a name two
distributions both register) become rows of the same report, so one table shows all that is wrong.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Iterable

from metareg.errors import UnknownPartError
from metareg.host.conformance.clauses import Clause, Finding, PartReport
from metareg.host.families import NAMES

#: family -> the module whose ``check(cls, overrides, report)`` runs that family's suite
SUITES = {family: f"metareg.host.conformance.{family}" for family in NAMES}

LOADS = Clause("plugin.load", "the plugin imports, its hooks match the hook specs, and every class it registers "
                              "meets its family's contract")
UNIQUE = Clause("plugin.unique", "a part's name is unique in its family across every installed distribution")
RUNS = Clause("plugin.checks", "the checks run to completion")


def check_class(family: str, cls: type, overrides: dict | None = None, *, plugin: str = "",
                distribution: str = "", version: str = "") -> PartReport:
    """Run ``family``'s checks on ``cls`` with ``overrides`` of its config; the global torch RNG is left as it was."""
    import torch

    report = PartReport(family, getattr(cls, "name", getattr(cls, "__name__", "?")), plugin, distribution, version)
    if family not in SUITES:
        raise UnknownPartError("family", family, SUITES)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        try:
            importlib.import_module(SUITES[family]).check(cls, overrides, report)
        except Exception as exc:  # a check that cannot even run is this part's failure, never the caller's crash
            report.failures.append(Finding(RUNS, f"{type(exc).__name__}: {exc}"))
    return report


@dataclass
class Report:
    """The reports of the parts checked (and rows for plugins that could not load). ``ok``: nothing failed."""

    parts: list[PartReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.status != "fail" for p in self.parts)

    @property
    def failed(self) -> list[PartReport]:
        return [p for p in self.parts if p.status == "fail"]

    def format(self) -> str:
        """Every part's status, each broken clause on its own line, and a summary line."""
        counts = {s: sum(p.status == s for p in self.parts) for s in ("pass", "fail", "skip")}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing checked"
        return "\n".join([p.format() for p in self.parts] + [summary])

    def rows(self) -> list[dict]:
        return [{"plugin": p.plugin, "family": p.family, "part": p.name, "distribution": p.distribution,
                 "version": p.version, "status": p.status, "reason": p.reason,
                 "failures": [{"clause": f.clause.id, "text": f.clause.text, "detail": f.detail} for f in p.failures],
                 "notes": p.notes}
                for p in self.parts]

    def table(self) -> str:
        """Plugin, family, part, distribution, version, result (pass, or fail/skip with the first reason)."""
        header = ["plugin", "family", "part", "distribution", "version", "result"]
        body = [[p.plugin or "—", p.family, p.name, p.distribution or "—", p.version or "—",
                 p.status if not p.reason else f"{p.status}: {p.reason}"] for p in self.parts]
        widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header) - 1)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths + [0])).rstrip()  # noqa: E731
        return "\n".join([line(header), line(["-" * w for w in widths] + ["------"])] + [line(r) for r in body])


def _failure_detail(failure) -> str:
    """The registry's one-line error, plus the exception's last line when it says more (pluggy puts the reason a
    hook was rejected, e.g. which argument the spec lacks, on the last line of a multi-line message)."""
    last = failure.traceback.strip().splitlines()[-1].strip() if failure.traceback.strip() else ""
    return f"{failure.error} ({last})" if last and last not in failure.error else failure.error


def _check_config_keys(registry, config: dict) -> None:
    """An override for a part that is not installed is a typo: ``UnknownPartError`` with the close matches."""
    names = {family: {i.name for i in registry.all_parts() if i.family == family} for family in SUITES}
    for key in config:
        family, _, name = key.rpartition(".")
        if family and family not in SUITES:
            raise UnknownPartError("family", family, SUITES)
        available = names[family] if family else set().union(*names.values())
        if name not in available:
            raise UnknownPartError(family or "part", name, available)


def _overrides(info, config: dict | None) -> dict | None:
    """The overrides for one part: ``config["<family>.<name>"]`` or ``config["<name>"]``."""
    if not config:
        return None
    return config.get(f"{info.family}.{info.name}", config.get(info.name))


def check_registry(registry, select: Callable[[str, str, str], bool] | None = None, config: dict | None = None,
                   on_part: Callable[[PartReport], None] | None = None) -> Report:
    """Check every part of ``registry`` (those ``select(plugin, part, distribution)`` keeps) and add a failed row
    for each load failure and each duplicated name."""
    _check_config_keys(registry, config or {})
    keep = select or (lambda plugin, part, dist: True)
    report = Report()
    for failure in registry.failures:
        if keep(failure.plugin, "", failure.distribution):
            row = PartReport("—", "—", failure.plugin, failure.distribution, failure.version)
            row.failures.append(Finding(LOADS, _failure_detail(failure)))
            report.parts.append(row)
    duplicated = {id(i) for infos in registry.duplicates.values() for i in infos}
    for info in registry.all_parts():
        if not keep(info.plugin, info.name, info.distribution):
            continue
        if id(info) in duplicated:
            others = [o.origin for o in registry.duplicates[(info.family, info.name)] if o is not info]
            row = PartReport(info.family, info.name, info.plugin, info.distribution, info.version)
            row.failures.append(Finding(UNIQUE, f"also registered by {' and '.join(others)}"))
        else:
            row = check_class(info.family, info.cls, _overrides(info, config), plugin=info.plugin,
                              distribution=info.distribution, version=info.version)
        report.parts.append(row)
        if on_part is not None:
            on_part(row)
    return report


def check_plugin(plugin: object, *, registry=None, config: dict | None = None) -> Report:
    """Run the contract checks on every part of one plugin and report each broken clause.

    :param plugin: an installed plugin's entry-point name, a distribution name, or a part name (any family); or the
        plugin module (or object) itself, registered into a fresh registry, to check a plugin before installing it.
    :param registry: the registry to look names up in (default: every installed ``metareg`` entry point).
    :param config: overrides of parts' configs, keyed ``"<family>.<name>"`` or ``"<name>"``, e.g.
        ``{"benchmark.folder": {"path": "/data/omniglot"}}``.
    :returns: a :class:`Report`; ``report.ok`` is False when any clause broke, ``print(report.format())`` says why.

    Example::

        report = check_plugin("metareg-plugin-example")
        assert report.ok, report.format()
    """
    from metareg.host.registry import Registry

    if not isinstance(plugin, str):
        registry = Registry()
        registry.add_plugin(plugin, getattr(plugin, "__name__", type(plugin).__name__))
        return check_registry(registry, config=config)
    registry = registry if registry is not None else Registry.load(warn=False)
    names = accepted_names(registry)
    if plugin not in names:
        raise UnknownPartError("plugin", plugin, names)
    return check_registry(registry, lambda p, part, dist: plugin in (p, part, dist), config)


def accepted_names(registry) -> set[str]:
    """Every name ``check_plugin`` accepts: plugins (loaded or failed), distributions and parts."""
    infos: Iterable = registry.all_parts()
    return ({i.plugin for i in infos} | {i.distribution for i in infos} | {i.name for i in infos}
            | {f.plugin for f in registry.failures} | {f.distribution for f in registry.failures})
