"""metareg/ is laid out by stage, and a stage imports only the stages before it.

The order is the README's Layout: toolkit, host, store, run, grid, board, commands. The top level holds only the
public faces (``__init__``, ``testing``, ``errors``), which any stage may import (``errors``, or ``metareg`` for its
version). A module that imports a later stage makes the folders lie about the architecture, so this test names it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import metareg

ROOT = Path(metareg.__file__).parent
STAGES = ("toolkit", "host", "store", "run", "grid", "tune", "board", "commands")
TOP_LEVEL = {"__init__.py", "__main__.py", "errors.py", "testing.py"}
#: the one import against the order, lazy and declared in metareg/host/__init__.py: a benchmark's ``train_defaults``
#: are checked against the train settings a run takes
DECLARED = {("host.conformance.benchmark", "run.config")}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("metareg."):
            found.add(node.module[len("metareg."):])
        elif isinstance(node, ast.Import):
            found |= {a.name[len("metareg."):] for a in node.names if a.name.startswith("metareg.")}
    return found


def _stage(module: str) -> str | None:
    head = module.split(".")[0]
    return head if head in STAGES else None


def test_the_top_level_holds_only_the_public_faces_and_the_stage_folders():
    files = {p.name for p in ROOT.glob("*.py")}
    folders = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert files == TOP_LEVEL
    assert folders == set(STAGES)


def test_no_stage_imports_a_later_stage():
    against = set()
    for path in ROOT.rglob("*.py"):
        me = _module(path)
        mine = _stage(me)
        if mine is None:
            continue
        for target in _imports(path):
            theirs = _stage(target)
            if theirs is not None and STAGES.index(theirs) > STAGES.index(mine):
                against.add((me, target))
    assert against == DECLARED


def test_every_stage_folder_says_what_it_owns():
    for stage in STAGES:
        doc = ast.get_docstring(ast.parse((ROOT / stage / "__init__.py").read_text()))
        assert doc and len(doc.split()) >= 15, f"metareg/{stage}/__init__.py needs a docstring of what it owns"


def test_the_built_in_plugins_and_the_example_plugin_import_only_metareg_itself():
    """A built-in is written as a third party would write it: on ``metareg``'s public API and nothing under it."""
    import metareg_plugins

    repo = Path(__file__).resolve().parents[2]
    trees = [Path(metareg_plugins.__file__).parent, repo / "examples" / "metareg-plugin-example" / "src"]
    private = sorted(f"{path.name}: metareg.{module}" for tree in trees for path in tree.rglob("*.py")
                     for module in _imports(path))
    assert private == []


def test_the_tests_mirror_the_stages_and_no_test_imports_another_test_module():
    """A test sits in the folder of the stage it pins, and what tests share lives in ``tests/helpers/``: a test that
    imports another test module (or ``conftest``) breaks when that module moves, and runs its tests twice."""
    tests = Path(__file__).resolve().parents[1]
    assert sorted(p.name for p in tests.glob("test_*.py")) == []
    folders = {p.relative_to(tests).parts[0] for p in tests.rglob("test_*.py")}
    assert folders <= set(STAGES) | {"plugins", "docs", "benchmarks"}, folders
    reaching = sorted(f"{path.relative_to(tests)} imports {name}" for path in tests.rglob("*.py")
                      for node in ast.walk(ast.parse(path.read_text()))
                      for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else
                                   [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                      if name.split(".")[0].startswith("test_") or name.split(".")[0] == "conftest")
    assert reaching == []
