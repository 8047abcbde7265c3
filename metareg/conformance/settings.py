"""The config a checked part is built with: its defaults, its preset for the task kind, ``check_config``, overrides.

Why this order: it is the order a run layers them (``metareg.config``), with the part's own small-instance settings
(``check_config``) and then the caller's overrides (e.g. a dataset path) on top, so a check exercises the
configuration a run would, only smaller.
"""
from __future__ import annotations

import dataclasses

from metareg.conformance.clauses import Broken


def part_config(cls: type, kind: str | None, overrides: dict | None = None) -> object:
    """An instance of ``cls.Config``; ``Broken`` names any preset, ``check_config`` or override key it lacks."""
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    own_presets = {k: v for k, v in (cls.presets.get(kind, {}) if kind else {}).items() if "." not in k}
    layers = [("presets", own_presets),  # a dotted preset key sets another section (metareg.config)
              ("check_config", getattr(cls, "check_config", {}) or {}),
              ("overrides", overrides or {})]
    values: dict = {}
    for source, layer in layers:
        unknown = sorted(set(layer) - fields)
        if unknown:
            raise Broken(f"{source} set {', '.join(unknown)}, which are not fields of Config "
                         f"(fields: {', '.join(sorted(fields)) or 'none'})")
        values.update(layer)
    return cls.Config(**values)
