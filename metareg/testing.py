"""Test kit for plugin authors, loaded by pytest as a plugin (entry point ``pytest11``).

Functions:
    check_plugin(plugin, config=None): run the runtime contract checks on every part of an installed plugin (by
        entry-point, distribution or part name) or of a plugin module not installed yet; returns a report whose
        ``ok`` is False when any clause broke and whose ``format()`` names each broken clause.
    assert_conforms(plugin, config=None): ``check_plugin`` that fails the test with the report (the fixture's body).
    tiny_batch(kind): a few tiny, learnable probe tasks (Gaussian classes or sinusoids) for a part's unit tests.
    write_plugin_dist(...): write a throw-away installed distribution (see ``metareg_plugin_dist``).

Fixtures:
    metareg_check: ``metareg_check("my-plugin")`` runs ``check_plugin`` and fails the test with every broken
        clause (and with any part it could not check: give such a part its settings with ``config=``).
    metareg_registry: a fresh, empty registry (no entry points loaded) to register plugins into.
    metareg_plugin_dist: a factory that writes a throw-away installed distribution (``*.dist-info`` with
        ``entry_points.txt``) plus its module onto ``sys.path``, so entry-point discovery finds it as it would a
        ``pip install``-ed package.

Nothing heavy is imported at collection time, and ``check_plugin`` works without pytest installed.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import sys
import textwrap
from pathlib import Path

from metareg.host.conformance import Report, check_plugin

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is a test extra; the functions above still work without it
    pytest = None

__all__ = ["Report", "assert_conforms", "check_plugin", "metareg_check", "metareg_plugin_dist", "metareg_registry",
           "tiny_batch", "write_plugin_dist"]


def tiny_batch(kind: str = "classification", n_tasks: int = 3, seed: int = 0, input_shape: tuple | None = None):
    """A :class:`metareg.TaskBatch` of ``n_tasks`` probe tasks, the ones the contract checks use.

    ``"classification"``: 3-way 2-shot tasks of Gaussian classes, 2 queries per class, inputs ``input_shape``
    (default ``(5,)``); ``"regression"``: 5-shot sinusoids with 5 queries, inputs ``(1,)``.
    """
    from metareg.host.conformance.probes import probe_batch

    return probe_batch(kind, seed=seed, input_shape=input_shape, n_tasks=n_tasks)


def write_plugin_dist(root: Path, dist_name: str, version: str, modules: dict[str, str],
                      entry_points: dict[str, str]) -> Path:
    """Write ``modules`` (import name -> source) and a dist-info declaring ``entry_points`` (name -> module) in the
    ``metareg`` group under ``root``; returns ``root`` (put it on ``sys.path`` or ``PYTHONPATH``)."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    lines = ["[metareg]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


def assert_conforms(plugin: object, *, config: dict | None = None, registry=None, allow_skip: bool = False) -> Report:
    """``check_plugin`` that fails the current test with the report when a clause broke (or a part was skipped,
    unless ``allow_skip``); returns the report."""
    report = check_plugin(plugin, config=config, registry=registry)
    skipped = [p for p in report.parts if p.status == "skip"]
    if not report.ok or (skipped and not allow_skip):
        hint = "\n(give skipped parts their settings with config={'<family>.<name>': {...}})" if skipped else ""
        message = f"metareg contract checks of {getattr(plugin, '__name__', plugin)!r}:\n{report.format()}{hint}"
        if pytest is None:  # pragma: no cover
            raise AssertionError(message)
        pytest.fail(message, pytrace=False)
    return report


if pytest is not None:

    @pytest.fixture
    def metareg_check():
        """``metareg_check(plugin, config=None, allow_skip=False)``: the contract checks, failing the test with
        every broken clause. ``plugin`` is an installed entry-point, distribution or part name, or a module."""
        return assert_conforms

    @pytest.fixture
    def metareg_registry():
        """An empty ``metareg.Registry`` (no entry points loaded): ``add_plugin(module, name)`` registers a module of
        hook implementations, ``get(family, name)`` looks a part up as a run would."""
        from metareg.host.registry import Registry

        return Registry()

    @pytest.fixture
    def metareg_plugin_dist(tmp_path, monkeypatch):
        """Factory: ``metareg_plugin_dist(dist_name, {module: source}, {entry_point: module}, version="1.0")``
        writes a throw-away installed distribution (a ``*.dist-info`` with ``entry_points.txt``), puts it on
        ``sys.path`` and ``PYTHONPATH`` for this test only, and returns its folder; e.g.
        ``metareg_plugin_dist("metareg-toy", {"toy_plugin": SOURCE}, {"toy": "toy_plugin"})``."""
        created: list[str] = []

        def make(dist_name: str, modules: dict[str, str], entry_points: dict[str, str], version: str = "1.0") -> Path:
            root = write_plugin_dist(tmp_path / dist_name, dist_name, version, modules, entry_points)
            monkeypatch.syspath_prepend(str(root))
            monkeypatch.setenv("PYTHONPATH", str(root), prepend=":")
            created.extend(modules)
            importlib.invalidate_caches()
            return root

        yield make
        for module in created:
            sys.modules.pop(module, None)
