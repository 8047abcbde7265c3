"""Search spaces: the distribution each tunable setting is drawn from, declared beside a part's ``Config`` as its
``ranges`` are, so ``metareg tune`` can search every part the same way and a plugin's space comes with it::

    search = {"inner_lr": metareg.LogUniform(0.01, 1.0), "inner_steps": metareg.IntUniform(1, 10)}

Why declared by the part: the one who wrote the method knows which settings matter and over what scale (a learning
rate over decades, a step count over integers); a user narrows or replaces a space in a suite's ``search:`` block
or with ``--search KEY=SPEC`` (``parse_spec``), never by editing the part. Each distribution checks itself
(``check``), so an empty or inverted range is an error naming the key before any trial runs, and maps itself onto
Optuna's (``to_optuna``) where the search engine needs it; nothing here imports Optuna.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Union

from metareg.errors import ConfigError


@dataclass(frozen=True)
class _Interval:
    """A real number on [low, high]: what ``LogUniform`` and ``Uniform`` share (they differ in scale)."""

    low: float
    high: float

    log: ClassVar[bool] = False
    #: how a ``--search`` SPEC names the distribution, how a message does, and an example of one
    kind: ClassVar[str] = "uniform"
    title: ClassVar[str] = "uniform"
    example: ClassVar[str] = "uniform:0:0.5"

    def check(self, key: str) -> None:
        _finite(key, self.low, self.high)
        if not (0 if self.log else -math.inf) < self.low < self.high:
            bound = "0 < low < high" if self.log else "low < high"
            raise ConfigError(f"search space for {key}: {self.title} needs {bound}, got "
                              f"[{self.low}, {self.high}]; e.g. {self.example}")

    def to_optuna(self):
        import optuna

        return optuna.distributions.FloatDistribution(float(self.low), float(self.high), log=self.log)

    def __str__(self) -> str:
        return f"{self.kind}:{self.low:g}:{self.high:g}"


@dataclass(frozen=True)
class LogUniform(_Interval):
    """A positive number whose logarithm is uniform on [log low, log high]: learning rates, weights of a loss."""

    log: ClassVar[bool] = True
    kind: ClassVar[str] = "log"
    title: ClassVar[str] = "log-uniform"
    example: ClassVar[str] = "log:0.001:0.1"


@dataclass(frozen=True)
class Uniform(_Interval):
    """A number uniform on [low, high]."""


@dataclass(frozen=True)
class IntUniform:
    """An integer uniform on {low, ..., high}, both ends included: step counts, widths."""

    low: int
    high: int

    def check(self, key: str) -> None:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (self.low, self.high)):
            raise ConfigError(f"search space for {key}: integer bounds must be integers, got [{self.low!r}, "
                              f"{self.high!r}]; e.g. int:1:10")
        if not self.low < self.high:
            raise ConfigError(f"search space for {key}: integer range needs low < high, got [{self.low}, "
                              f"{self.high}]; e.g. int:1:10")

    def to_optuna(self):
        import optuna

        return optuna.distributions.IntDistribution(int(self.low), int(self.high))

    def __str__(self) -> str:
        return f"int:{self.low}:{self.high}"


@dataclass(frozen=True)
class Categorical:
    """One of a fixed set of values (names, booleans, numbers)."""

    choices: tuple

    def __init__(self, *choices: Any):
        object.__setattr__(self, "choices", tuple(choices))

    def check(self, key: str) -> None:
        if len(self.choices) < 2 or len(set(map(repr, self.choices))) != len(self.choices):
            raise ConfigError(f"search space for {key}: a categorical space needs at least two distinct choices, "
                              f"got {list(self.choices)}; e.g. choice:true,false")

    def to_optuna(self):
        import optuna

        return optuna.distributions.CategoricalDistribution(self.choices)

    def __str__(self) -> str:
        return "choice:" + ",".join(str(c).lower() if isinstance(c, bool) else str(c) for c in self.choices)


Distribution = Union[LogUniform, Uniform, IntUniform, Categorical]
DISTRIBUTIONS = (LogUniform, Uniform, IntUniform, Categorical)

SPEC_FORMS = "log:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH or choice:A,B,..."


def parse_spec(key: str, text: str) -> Distribution:
    """``--search KEY=SPEC``'s SPEC as a distribution, checked: ``log:0.01:1``, ``uniform:0:0.5``, ``int:1:10``,
    ``choice:vmap,loop`` (``true``/``false`` and numbers in a choice are read as such)."""
    kind, _, rest = str(text).partition(":")
    try:
        if kind in ("log", "uniform"):
            low, high = (float(v) for v in rest.split(":"))
            dist = LogUniform(low, high) if kind == "log" else Uniform(low, high)
        elif kind == "int":
            low, high = (int(v) for v in rest.split(":"))
            dist = IntUniform(low, high)
        elif kind == "choice":
            dist = Categorical(*(_scalar(v.strip()) for v in rest.split(",") if v.strip()))
        else:
            raise ValueError(kind)
    except ValueError:
        raise ConfigError(f"--search {key}={text}: not a search space; give {SPEC_FORMS}") from None
    dist.check(key)
    return dist


def from_mapping(key: str, value: Any) -> Distribution:
    """A suite's ``search:`` entry: a SPEC string as ``parse_spec`` reads it, or a list (a categorical space)."""
    if isinstance(value, list):
        dist = Categorical(*value)
        dist.check(key)
        return dist
    if isinstance(value, str):
        return parse_spec(key, value)
    raise ConfigError(f"search space for {key}: give a string ({SPEC_FORMS}) or a list of choices, got {value!r}")


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _finite(key: str, *values: float) -> None:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise ConfigError(f"search space for {key}: bounds must be finite numbers, got {list(values)}")
