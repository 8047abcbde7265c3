"""The vocabulary of the runtime contract checks: a clause, a broken clause, a suite of clauses, a part's report.

Why clauses: a plugin author reading a failure needs to know which promise the part broke (the clause's sentence,
the contract as the authoring guide states it) and where to read about it (its id, e.g. ``learner.batched``, is
listed in docs/plugins.md). Each family's module declares its clauses with :meth:`Suite.clause`, next to the code
that checks them; the guide's table of clauses is checked against them by tests/docs/test_docs_plugins.py.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Callable

from metareg.errors import ConfigError


@dataclass(frozen=True)
class Clause:
    """One promise of a family's contract: ``id`` (``family.topic``) and the sentence that states it."""

    id: str
    text: str


class Broken(Exception):
    """Raised by a check: the part broke the clause being checked; the message says what happened instead."""


class Declined(Exception):
    """Raised by a check: the part declined a probe through the contract (e.g. ``IncompatibleError`` for an input
    shape it does not take), which is allowed; the message is kept as a note."""


def expect(condition: bool, detail: str) -> None:
    """``Broken(detail)`` unless ``condition``: the one-line assertion every check is written with."""
    if not condition:
        raise Broken(detail)


@dataclass(frozen=True)
class Finding:
    """A broken clause and what happened, e.g. ``[learner.predict] ...: got shape [3, 6]``."""

    clause: Clause
    detail: str

    def line(self) -> str:
        return f"[{self.clause.id}] {self.clause.text} -- {self.detail}"


@dataclass
class PartReport:
    """The outcome of the checks on one part.

    ``status`` is ``fail`` when any clause broke, ``skip`` when the part could not be checked at all (it needs
    settings its defaults do not give, e.g. a dataset path; ``reason`` says which), else ``pass``. ``notes`` say
    what was not checked and why (a declared capability, a probe the part declined).
    """

    family: str
    name: str
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    failures: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def status(self) -> str:
        return "fail" if self.failures else "skip" if self.skipped else "pass"

    @property
    def reason(self) -> str:
        """One line: the first broken clause, or why the part was skipped, or empty."""
        if self.failures:
            more = f" (+{len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
            first = self.failures[0]
            return f"[{first.clause.id}] {first.detail}{more}"
        return (self.skipped or "").strip().split("\n")[0]

    def format(self) -> str:
        origin = f" from {self.distribution} {self.version}".rstrip() if self.distribution else ""
        lines = [f"{self.family} {self.name!r}{origin}: {self.status.upper()}"]
        if self.skipped:
            lines.append(f"  not checked: {self.skipped}")
        lines += [f"  {f.line()}" for f in self.failures]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _describe(exc: BaseException) -> str:
    """``Type: message`` and the innermost frame outside metareg.host.conformance: where the plugin's code failed."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "conformance" not in f.filename]
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ") + where


Check = Callable[[object], None]


class Suite:
    """The ordered clauses of one family and the function that checks each against a probe object.

    The first clause builds the part; when it breaks, the others cannot run and are not reported.
    """

    def __init__(self, family: str):
        self.family = family
        self.checks: list[tuple[Clause, Check]] = []

    def clause(self, topic: str, text: str) -> Callable[[Check], Check]:
        def register(fn: Check) -> Check:
            self.checks.append((Clause(f"{self.family}.{topic}", text), fn))
            return fn

        return register

    @property
    def clauses(self) -> list[Clause]:
        return [c for c, _ in self.checks]

    def run(self, probe: object, report: PartReport, context: str = "") -> bool:
        """Check every clause against ``probe``, adding findings to ``report``; False when the build clause broke or
        was declined (nothing else can run). A ``ConfigError`` while building means the part needs a setting its
        defaults lack (a dataset path): the part is reported as skipped, with that message.

        ``context`` (e.g. "on regression tasks") prefixes each finding's detail when a suite runs once per probe.
        """
        prefix = f"{context}: " if context else ""
        for index, (clause, check) in enumerate(self.checks):
            try:
                check(probe)
            except Declined as exc:
                report.notes.append(f"{clause.id}: {prefix}{exc}")
                if index == 0:
                    return False
                continue
            except Broken as exc:
                report.failures.append(Finding(clause, prefix + str(exc)))
            except ConfigError as exc:
                if index > 0:
                    report.failures.append(Finding(clause, f"{prefix}raised ConfigError: {exc}"))
                    continue
                report.skipped = f"needs settings its defaults do not give: {exc}"
                return False
            except Exception as exc:  # the part's own code raised: that breaks the clause, it must not stop the rest
                report.failures.append(Finding(clause, prefix + "raised " + _describe(exc)))
            else:
                continue
            finally:
                if clause.id not in report.checked:
                    report.checked.append(clause.id)
            if index == 0:
                return False
        return True
