"""The headroom view of a shift benchmark: how much of the gap that labelled target data would close each method closed.

Why: a row's gain over its baseline means little without the most any alignment could add. On glyph-world's style
domains the oracle (meta-trained on labelled handwriting, ``train_domain=target``) beat the source-only baseline by
about the seeds' spread, so a DANN row there could not have shown a gain, and a reader had no way to see it. Per
combination of learner, backbone and settings (its *reference key*), the view sets beside each other:

- the **baseline**: no adversary, no generator, the benchmark's domain settings at their defaults;
- the **oracle**: the same with ``train_domain=target``, the ceiling no unsupervised alignment can beat;
- the **source test**: the same with ``test_domain=source``, the score without the shift, on the same episodes;
- each adversary or generator row at the default domain settings, with its Δ vs the baseline, its per-seed Δ
  (seeds paired: the engine evaluates every row of a seed on the same episodes) and its **share of the gap
  closed**, (row − baseline) / (oracle − baseline).

Where the gap is within the seeds' spread (the larger of the baseline's and the oracle's standard deviation over
seeds; with fewer than two seeds each, the larger of their 95% CIs over episodes) the view says "no headroom"
instead of a share: no method could have shown a gain there.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from metareg.host.contracts.benchmark import DOMAIN_DEFAULTS

if TYPE_CHECKING:  # pragma: no cover
    from metareg.board.build import Entry

#: a row's role in the view, from its benchmark's domain settings (None: an ordinary row, both at their defaults)
ROLES = {("train_domain", "target"): "oracle", ("test_domain", "source"): "source test",
         ("train_domain", "both"): "both domains", ("val_domain", "target"): "target-val oracle"}


def domain_settings(config: dict) -> dict[str, str]:
    """The benchmark's domain settings in a run's config that are not at their defaults."""
    name = config.get("run", {}).get("benchmark")
    own = config.get("benchmark", {}).get(name) or {}
    return {k: own[k] for k in DOMAIN_DEFAULTS if k in own and own[k] != DOMAIN_DEFAULTS[k]}


def without_default_domains(config: dict) -> dict:
    """``config`` less the benchmark's domain settings at their defaults: what runs from before the settings existed
    hold, so old and new runs of one combination pool into one row (as the run identity does)."""
    name = config.get("run", {}).get("benchmark")
    own = config.get("benchmark", {}).get(name)
    if not isinstance(own, dict) or not any(own.get(k) == v for k, v in DOMAIN_DEFAULTS.items()):
        return config
    out = dict(config, benchmark=dict(config["benchmark"]))
    out["benchmark"][name] = {k: v for k, v in own.items() if not (k in DOMAIN_DEFAULTS and v == DOMAIN_DEFAULTS[k])}
    return out


def without_domains(config: dict) -> dict:
    """``config`` less every domain setting of its benchmark: what the rows of one headroom view share."""
    name = config.get("run", {}).get("benchmark")
    own = config.get("benchmark", {}).get(name)
    if not isinstance(own, dict):
        return config
    out = dict(config, benchmark=dict(config["benchmark"]))
    out["benchmark"][name] = {k: v for k, v in own.items() if k not in DOMAIN_DEFAULTS}
    return out


def role(entry: "Entry") -> str | None:
    """``oracle``, ``source test`` or ``both domains`` for a row with a non-default domain setting (an adversary or
    generator on it included), None for an ordinary row."""
    settings = domain_settings(entry.config)
    if not settings:
        return None
    names = [ROLES.get(item, f"{item[0]}={item[1]}") for item in sorted(settings.items())]
    return " + ".join(names)


def seed_spread(entry: "Entry | None") -> float | None:
    """The standard deviation of a row's per-seed means (None with fewer than two seeds)."""
    if entry is None or len(entry.per_seed) < 2:
        return None
    return statistics.stdev(entry.per_seed.values())


@dataclass
class Variant:
    """An adversary or generator row of the view."""

    entry: "Entry"
    delta: float | None
    per_seed: dict[int, float]  # seed -> row − baseline on that seed's episodes
    share: float | None  # of the gap closed; None without a gap to close


@dataclass
class Headroom:
    """One reference key's baseline, oracle and source test, and the rows measured against them."""

    baseline: "Entry"
    oracle: "Entry | None"
    source_test: "Entry | None"
    higher_is_better: bool = True
    variants: list[Variant] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        """Oracle − baseline mean (None without both)."""
        if self.oracle is None or self.oracle.estimate is None or self.baseline.estimate is None:
            return None
        return self.oracle.estimate.mean - self.baseline.estimate.mean

    @property
    def spread(self) -> float | None:
        """The seeds' spread the gap is judged against (module docstring)."""
        sds = [s for s in (seed_spread(self.baseline), seed_spread(self.oracle)) if s is not None]
        if sds:
            return max(sds)
        cis = [e.estimate.ci95 for e in (self.baseline, self.oracle)
               if e is not None and e.estimate is not None and e.estimate.ci95 is not None]
        return max(cis) if cis else None

    @property
    def no_headroom(self) -> bool:
        """Whether the gap, in the metric's direction, is within the seeds' spread (or not a gain at all): no row
        could show a gain."""
        if self.gap is None:
            return False
        gain, spread = self.gap if self.higher_is_better else -self.gap, self.spread
        return gain <= 0 or (spread is not None and gain <= spread)


def headroom(entries: list["Entry"], higher_is_better: bool | None) -> list[Headroom]:
    """The views of a section's rows: one per reference key that has a baseline and an oracle or source test row.
    Empty for a section without them (every benchmark without domain settings), and for a metric without a
    direction (a share of a gap needs one)."""
    from metareg.board.build import VARIANT_PATHS, _digest, _without

    if higher_is_better is None:
        return []

    def key(entry):
        return _digest(without_domains(_without(entry.config, VARIANT_PATHS)))

    groups: dict[str, dict] = {}
    for entry in entries:
        group = groups.setdefault(key(entry), {"variants": []})
        kind = role(entry)
        if entry.is_baseline and kind in (None, "oracle", "source test"):
            group[kind or "baseline"] = entry
        elif not entry.is_baseline and kind is None:
            group["variants"].append(entry)
    views = []
    for group in groups.values():
        base = group.get("baseline")
        if base is None or not ({"oracle", "source test"} & set(group)):
            continue
        view = Headroom(base, group.get("oracle"), group.get("source test"), higher_is_better)
        for entry in sorted(group["variants"], key=lambda e: e.label):
            delta = entry.delta
            per_seed = {s: entry.per_seed[s] - base.per_seed[s] for s in sorted(entry.per_seed) if s in base.per_seed}
            share = None
            if delta is not None and view.gap is not None and not view.no_headroom:
                share = delta / view.gap  # both signed alike: a gain toward the oracle is a positive share
            view.variants.append(Variant(entry, delta, per_seed, share))
        views.append(view)
    views.sort(key=lambda v: v.baseline.label)
    return views


def fmt_share(view: Headroom, variant: Variant | None) -> str:
    """A variant's share of the gap as the table prints it: a percentage, "no headroom", or "—"."""
    if view.no_headroom:
        return "no headroom"
    if variant is None or variant.share is None or not math.isfinite(variant.share):
        return "—"
    return f"{100 * variant.share:+.0f}%"
