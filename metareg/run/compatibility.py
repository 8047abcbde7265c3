"""Whether a choice of parts can make a run, decided in one place.

Three rules, each asked at the earliest stage that can answer it, with one message each: a learner handles the
benchmark's task kind (config resolution, from the classes alone), a context-conditioned learner needs a backbone
that takes a context (the grid planner and the engine, from the configs), and an adversary needs unlabelled
target-domain data (the planner by probing the benchmark, the engine from the benchmark it built). A grid cell
that breaks a rule is a stated skip; a single run that breaks one is an ``IncompatibleError`` with the same words.
"""
from __future__ import annotations

from typing import Any


def task_kind_problem(learner_name: str, learner_kinds: tuple[str, ...], benchmark_name: str, kind: str) -> str | None:
    if kind in learner_kinds:
        return None
    return (f"learner {learner_name!r} handles {' and '.join(learner_kinds)} tasks, but benchmark {benchmark_name!r} "
            f"is {kind}; choose another learner or benchmark")


def context_problem(selection: Any, learner_config: Any) -> str | None:
    """A learner that conditions the backbone on a context vector, on a backbone that takes none."""
    learner, backbone = selection.learner, selection.backbone
    if learner.cls.context_size(learner_config) and not getattr(backbone.cls, "supports_context", False):
        return (f"learner {learner.name!r} conditions the backbone on a context vector, which backbone "
                f"{backbone.name!r} does not support")
    return None


def target_problem(selection: Any, has_target: bool) -> str | None:
    """An adversary on a benchmark (as configured) whose ``target_pool`` is None."""
    if selection.adversary is None or has_target:
        return None
    return (f"adversary {selection.adversary.name!r} needs unlabelled target-domain data, and benchmark "
            f"{selection.benchmark.name!r} (as configured) has no target domain; choose a benchmark with a domain "
            f"shift")
