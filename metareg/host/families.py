"""The five families of parts, declared once.

Every stage names the families: the config's sections, a grid's axes, the registry's tables, the contract checks,
the conformance suites, `metareg plugins`' headings. Each reads them here, so they cannot drift apart, and a new
family is one entry here plus its contract (``metareg.host.contracts``), its conformance suite and its hook spec.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str  # the config section, the grid axis, the registry's key: "learner"
    title: str  # how a listing heads it: "meta-learners"
    optional: bool  # a run may have none of it (``--adversary none``)


#: in the order a run is resolved: the benchmark decides the default backbone, the learner is built on the
#: backbone, and an adversary or a generator attaches to those (README: benchmark × backbone × meta-learner ×
#: adversary? × generator?)
FAMILIES = (
    Family("benchmark", "benchmarks", optional=False),
    Family("backbone", "backbones", optional=False),
    Family("learner", "meta-learners", optional=False),
    Family("adversary", "adversaries", optional=True),
    Family("generator", "generators", optional=True),
)
NAMES = tuple(f.name for f in FAMILIES)
#: the families a run may leave out
OPTIONAL = tuple(f.name for f in FAMILIES if f.optional)
TITLES = {f.name: f.title for f in FAMILIES}
#: the order a grid's product is taken in and a cell is named: the learner first ("maml on sinusoid + dann")
GRID_ORDER = ("learner", "benchmark", "backbone", "adversary", "generator")
assert sorted(GRID_ORDER) == sorted(NAMES)
