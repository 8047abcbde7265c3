"""The checks ``register()`` runs on a class, so a broken part fails at load time with the piece it lacks named."""
from __future__ import annotations

import dataclasses
import inspect
import re

from metareg.errors import ContractError
from metareg.host.contracts.adversary import Adversary
from metareg.host.contracts.backbone import Backbone
from metareg.host.contracts.benchmark import Benchmark
from metareg.host.contracts.generator import Generator
from metareg.host.contracts.learner import MetaLearner
from metareg.host.families import NAMES
from metareg.host.ranges import declaration_problem

_DECLARED: dict[str, tuple[type, tuple[str, ...]]] = {
    "backbone": (Backbone, ("input_shape", "config", "context_dim")),
    "learner": (MetaLearner, ("backbone", "spec", "config")),
    "adversary": (Adversary, ("feature_dim", "config")),
    "generator": (Generator, ("spec", "config")),
    "benchmark": (Benchmark, ("config",)),
}
#: family name -> (base class, constructor parameters after self): what ``check_part`` holds a class to, in
#: ``metareg.host.families``' order (the families themselves, their titles and options, are ``families.FAMILIES``)
CONTRACTS: dict[str, tuple[type, tuple[str, ...]]] = {name: _DECLARED[name] for name in NAMES}

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def check_part(family: str, cls: object) -> None:
    """Raise ``ContractError`` naming the first way ``cls`` breaks the ``family`` contract."""
    base, params = CONTRACTS[family]
    what = getattr(cls, "__qualname__", repr(cls))
    if not inspect.isclass(cls) or not issubclass(cls, base):
        raise ContractError(f"{family} {what} must be a subclass of metareg.{base.__name__}")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ContractError(
            f"{family} {what} needs a class attribute `name` in lowercase kebab-case (e.g. 'mt-gan'), got {name!r}"
        )
    if not (inspect.isclass(cls.Config) and dataclasses.is_dataclass(cls.Config)):
        raise ContractError(f"{family} {name!r}: `Config` must be a dataclass of its hyper-parameters")
    missing_defaults = [
        f.name
        for f in dataclasses.fields(cls.Config)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing_defaults:
        raise ContractError(f"{family} {name!r}: Config fields need defaults: {', '.join(missing_defaults)}")
    problem = declaration_problem(cls.ranges, cls.Config)
    if problem:
        raise ContractError(f"{family} {name!r}: {problem}")
    if inspect.isabstract(cls):
        abstract = ", ".join(sorted(cls.__abstractmethods__))
        raise ContractError(f"{family} {name!r} does not implement: {abstract}")
    sig = inspect.signature(cls.__init__)
    got = [p for p in sig.parameters if p != "self"]
    has_var = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values())
    if not has_var and got[: len(params)] != list(params):
        raise ContractError(
            f"{family} {name!r}: constructor must be __init__(self, {', '.join(params)}), "
            f"got __init__(self, {', '.join(got)})"
        )
    if family == "benchmark" and getattr(cls, "task_kind", None) not in ("classification", "regression"):
        raise ContractError(f"benchmark {name!r} needs a class attribute task_kind = 'classification' or 'regression'")
    if not isinstance(cls.presets, dict):
        raise ContractError(f"{family} {name!r}: `presets` must map a task kind to config overrides")
