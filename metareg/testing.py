"""Test kit for plugin authors, loaded by pytest as a plugin (entry point ``pytest11``).

Fixtures:
    metareg_registry: a fresh, empty registry (no entry points loaded) to register plugins into.
    metareg_plugin_dist: a factory that writes a throw-away installed distribution (``*.dist-info`` with
        ``entry_points.txt``) plus its module onto ``sys.path``, so entry-point discovery finds it as it would a
        ``pip install``-ed package.

Nothing heavy is imported at collection time.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import sys
import textwrap
from pathlib import Path

import pytest


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


@pytest.fixture
def metareg_registry():
    from metareg.registry import Registry

    return Registry()


@pytest.fixture
def metareg_plugin_dist(tmp_path, monkeypatch):
    """Factory: ``metareg_plugin_dist("metareg-toy", {"toy_plugin": SOURCE}, {"toy": "toy_plugin"})``."""
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
