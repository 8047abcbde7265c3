"""The config a checked part is built with: its defaults, its preset for the task kind, ``check_config``, overrides.

Why this order: it is the order a run layers them (``metareg.run.config``), with the part's own small-instance settings
(``check_config``) and then the caller's overrides (e.g. a dataset path) on top, so a check exercises the
configuration a run would, only smaller. The part's ``ranges`` are held to the same rules as at registration (they
name fields of ``Config``, whose defaults lie inside them), for a class checked without being registered, and the
layered config must lie inside them too, as a run's would.
"""
from __future__ import annotations

import dataclasses

from metareg.errors import ConfigError
from metareg.host.conformance.clauses import Broken
from metareg.host.ranges import check_ranges, declaration_problem


def part_config(cls: type, kind: str | None, overrides: dict | None = None) -> object:
    """An instance of ``cls.Config``; ``Broken`` names any preset, ``check_config`` or override key it lacks, and a
    ``ranges`` declaration or an own setting that breaks the rules; ``ConfigError`` an override outside a range."""
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    problem = declaration_problem(getattr(cls, "ranges", {}), cls.Config)
    if problem:
        raise Broken(problem)
    own_presets = {k: v for k, v in (cls.presets.get(kind, {}) if kind else {}).items() if "." not in k}
    layers = [("presets", own_presets),  # a dotted preset key sets another section (metareg.run.config)
              ("check_config", getattr(cls, "check_config", {}) or {}),
              ("overrides", overrides or {})]
    for source, layer in layers:
        unknown = sorted(set(layer) - fields)
        if unknown:
            raise Broken(f"{source} set {', '.join(unknown)}, which are not fields of Config "
                         f"(fields: {', '.join(sorted(fields)) or 'none'})")
    own = {**layers[0][1], **layers[1][1]}
    try:  # what the part sets itself must lie inside its ranges (a plugin bug otherwise) ...
        _check(cls, cls.Config(**own))
    except ConfigError as exc:
        raise Broken(f"its own settings (defaults, presets, check_config) break its declared ranges: {exc}") from None
    config = cls.Config(**{**own, **layers[2][1]})
    _check(cls, config)  # ... and what a caller sets is the caller's to get right: a ConfigError, reported as a skip
    return config


def _check(cls: type, config: object) -> None:
    check_ranges(getattr(cls, "ranges", {}), config, getattr(cls, "name", cls.__name__))
