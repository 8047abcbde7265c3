"""Valid values of settings, declared once beside a ``Config`` and checked before anything runs.

Why declared rather than checked in constructors: a constructor runs only when a run builds its parts, which is
after the store is opened and a grid is planned, so a bad value (``train.meta_iterations=-5``,
``train.outer_lr=nan``, ``learner.maml.vectorize=fast``) used to become a stored "done" run trained for nothing, or
a "failed" run with torch's message. A declaration is read by config resolution (``metareg.run.config.resolve``) before
any of that, by a part's base constructor (so a part built by hand is checked the same way), and by the contract
checks, which reject a declaration naming a key its ``Config`` lacks. One declaration, one message::

    ranges = {"inner_lr": metareg.Range.above(0), "inner_steps": metareg.Range.at_least(0),
              "dropout": metareg.Range.at_least(0) & metareg.Range.below(1),
              "vectorize": metareg.Choice("auto", "vmap", "loop")}

gives ``learner.maml.inner_lr must be above 0, got nan``. A list-valued setting (``hidden: [40, 40]``) has each
element checked; NaN and ±inf are outside every ``Range``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Mapping

from metareg.errors import ConfigError


def _number(x: float) -> str:
    """A bound as a user reads it: ``0``, ``0.5``, and ``2**63`` rather than nineteen digits."""
    if isinstance(x, int) and x >= 2**16 and x & (x - 1) == 0:
        return f"2**{x.bit_length() - 1}"
    return repr(x) if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Range:
    """An interval of valid values, possibly open at either end, plus single values allowed outside it.

    Build one with the constructors and combine two with ``&`` (both must hold): ``Range.at_least(1)``,
    ``Range.above(0) & Range.below(1)``, ``Range.between(1, 4)`` (both ends included), ``Range.finite()`` (any
    finite number), ``Range.seed()``; ``.allowing(0)`` admits one more value (``0`` meaning "the default"), and
    ``.because("...")`` adds the reason to the error message. ``.multiple_of(50)`` also asks for a multiple
    (``multiple_of(1)``: a whole number), and ``.allowing("auto")`` admits a word as well as a number, so a setting
    such as ``train.task_chunk`` (``auto`` or a whole number of tasks >= 1) is one declaration, not a hand check.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    also: tuple = ()
    reason: str = ""
    step: int | None = None

    @classmethod
    def at_least(cls, low: float) -> "Range":
        return cls(low=low)

    @classmethod
    def above(cls, low: float) -> "Range":
        return cls(low=low, low_open=True)

    @classmethod
    def at_most(cls, high: float) -> "Range":
        return cls(high=high)

    @classmethod
    def below(cls, high: float) -> "Range":
        return cls(high=high, high_open=True)

    @classmethod
    def between(cls, low: float, high: float) -> "Range":
        """``low`` to ``high``, both included."""
        return cls(low=low, high=high)

    @classmethod
    def finite(cls) -> "Range":
        """Any finite number: a setting with no bound still rejects NaN and ±inf."""
        return cls()

    @classmethod
    def seed(cls) -> "Range":
        """A seed: what SQLite's INTEGER and ``torch.manual_seed`` both hold, 0 to 2**63 - 1."""
        return cls(low=0, high=2**63, high_open=True)

    def __and__(self, other: "Range") -> "Range":
        """Both ranges at once (the tighter bound at each end); e.g. ``Range.above(0) & Range.below(1)``."""
        if not isinstance(other, Range):
            return NotImplemented
        low, low_open = _tighter(self.low, self.low_open, other.low, other.low_open, max)
        high, high_open = _tighter(self.high, self.high_open, other.high, other.high_open, min)
        reason = "; ".join(r for r in (self.reason, other.reason) if r)
        steps = [s for s in (self.step, other.step) if s is not None]
        step = math.lcm(*steps) if steps else None
        both = Range(low, high, low_open, high_open, (), reason, step)
        also = tuple(v for v in dict.fromkeys(self.also + other.also) if v in self and v in other and v not in both)
        return dataclasses.replace(both, also=also)

    def allowing(self, *values: object) -> "Range":
        """The range plus ``values`` (e.g. ``Range.at_least(8).allowing(0)``: 0 for "the layout's default";
        ``Range.above(0).allowing("auto")``: a word that picks the value when the run starts)."""
        return dataclasses.replace(self, also=self.also + values)

    def multiple_of(self, step: int) -> "Range":
        """The range, holding only whole multiples of ``step`` (``1``: any whole number; ``50``: the logging
        interval's multiples, as ``train.checkpoint_every`` needs)."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise TypeError(f"multiple_of needs a whole number >= 1, got {step!r}")
        return self & Range(step=step)

    def because(self, reason: str) -> "Range":
        """The range with the reason a value outside it is wrong, said after the error."""
        return dataclasses.replace(self, reason=reason)

    def __contains__(self, value: object) -> bool:
        if any(_same(value, v) for v in self.also):
            return True
        if isinstance(value, bool) or not isinstance(value, Real):
            return False
        if not isinstance(value, int) and not math.isfinite(value):  # an int is finite (and may exceed a float)
            return False
        if self.step is not None and not (isinstance(value, int) and value % self.step == 0):
            return False  # a whole number is an int: a float chunk size would reach slicing as 2.0
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def __str__(self) -> str:
        words = []
        if self.low is not None and self.high is not None and not self.low_open and not self.high_open:
            words.append(f"from {_number(self.low)} to {_number(self.high)}")
        else:
            if self.low is not None:
                words.append(f"{'above' if self.low_open else 'at least'} {_number(self.low)}")
            if self.high is not None:
                words.append(f"{'below' if self.high_open else 'at most'} {_number(self.high)}")
        if self.step is not None:
            words.append("a whole number" if self.step == 1 else f"a multiple of {self.step}")
        text = " and ".join(words) or "a finite number"
        return " or ".join([_number(v) if isinstance(v, Real) else str(v) for v in self.also] + [text])


class Choice:
    """One of a fixed set of values, e.g. ``Choice("auto", "vmap", "loop")`` for a strategy's name; ``.because("...")``
    adds the reason to the error message, as for ``Range``."""

    __slots__ = ("values", "reason")

    def __init__(self, *values: object):
        if not values:
            raise TypeError("Choice needs at least one value, e.g. Choice('auto', 'loop')")
        self.values, self.reason = tuple(values), ""

    def because(self, reason: str) -> "Choice":
        """The choice with the reason a value outside it is wrong, said after the error."""
        copy = Choice(*self.values)
        copy.reason = reason
        return copy

    def __contains__(self, value: object) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choice) and (self.values, self.reason) == (other.values, other.reason)

    def __hash__(self) -> int:
        return hash((self.values, self.reason))

    def __repr__(self) -> str:
        extra = f".because({self.reason!r})" if self.reason else ""
        return f"Choice({', '.join(map(repr, self.values))}){extra}"

    def __str__(self) -> str:
        return f"one of {', '.join(str(v) for v in self.values)}"


def _same(value: object, allowed: object) -> bool:
    """``value`` is the allowed extra value: numbers compare by value (``0.0`` is ``0``), anything else (a word
    such as ``auto``) only as the same type, and a bool never stands for a number."""
    numbers = [isinstance(v, Real) and not isinstance(v, bool) for v in (value, allowed)]
    if all(numbers):
        return value == allowed
    return type(value) is type(allowed) and value == allowed


def _tighter(a, a_open, b, b_open, pick):
    """The tighter of two bounds at one end (``pick`` is ``max`` for low bounds, ``min`` for high ones)."""
    if a is None:
        return b, b_open
    if b is None:
        return a, a_open
    if a == b:
        return a, a_open or b_open
    return (a, a_open) if pick(a, b) == a else (b, b_open)


def violation(key: str, value: Any, valid: Range | Choice) -> str | None:
    """The message for ``value`` of setting ``key`` outside ``valid`` (each element of a list), or None.

    ``key`` is the full dotted key (``learner.maml.inner_lr``); a list element is named ``key[i]``.
    """
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig":
        for i, item in enumerate(value):
            problem = violation(f"{key}[{i}]", item, valid)
            if problem:
                return problem
        return None
    if value in valid:
        return None
    why = f": {valid.reason}" if valid.reason else ""
    return f"{key} must be {valid}, got {value!r}{why}"


def check_ranges(ranges: Mapping[str, Range | Choice], values: Any, prefix: str) -> None:
    """Raise ``ConfigError`` for the first of ``values`` (a Config instance or config node, read by attribute)
    outside its range in ``ranges``; ``prefix`` names the section (``train``, ``learner.maml``)."""
    for name, valid in ranges.items():
        problem = violation(f"{prefix}.{name}", getattr(values, name), valid)
        if problem:
            raise ConfigError(problem)


def declaration_problem(ranges: object, config_cls: type) -> str | None:
    """What is wrong with a part's ``ranges`` declaration for its ``config_cls``, or None.

    It must map field names of the ``Config`` dataclass to a ``Range`` or a ``Choice``, and every field's default
    must lie inside (a default outside would make every run an error).
    """
    if not isinstance(ranges, Mapping):
        return f"`ranges` must map Config field names to metareg.Range or Choice, got {type(ranges).__name__}"
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(k for k in ranges if k not in fields)
    if unknown:
        return (f"`ranges` names {', '.join(map(repr, unknown))}, not fields of Config "
                f"(fields: {', '.join(fields) or 'none'})")
    for name, valid in ranges.items():
        if not isinstance(valid, (Range, Choice)):
            return (f"`ranges[{name!r}]` must be a metareg.Range (e.g. metareg.Range.at_least(0)) or a "
                    f"metareg.Choice, got {valid!r}")
        f = fields[name]
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            continue  # a field without a default is reported on its own
        problem = violation(name, default, valid)
        if problem:
            return f"the default of {name} breaks its declared range: {problem}"
    return None
