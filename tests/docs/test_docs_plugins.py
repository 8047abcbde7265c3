"""docs/plugins.md cannot rot: every code block in it is executed, and it names every hook and contract clause.

How each block runs:
- ``# file: PATH`` blocks (Python, TOML) are the guide's distribution; blocks naming the same file are concatenated.
  ``pyproject.toml`` gives its name, version and entry points, and the distribution is written with the
  ``metareg_plugin_dist`` fixture, which is what ``pip install -e .`` amounts to for entry-point discovery.
- ``text`` blocks are the package's file tree: every file in it must be one of the ``# file:`` blocks.
- other ``python`` blocks run in order, in one namespace, after the distribution is installed.
- ``bash`` lines run: ``pip install -e ...`` (the installation above), ``pytest`` (the guide's test functions,
  called with the fixtures they ask for), ``metareg ...`` (the CLI in-process, which must exit 0).
"""
from __future__ import annotations

import inspect
import re
import shlex
import tomllib
from pathlib import Path

from metareg.host import hookspecs
from metareg.host.conformance.run import LOADS, RUNS, SUITES, UNIQUE

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
BLOCK = re.compile(r"^```([\w-]*)\n(.*?)^```", re.S | re.M)
FILE_MARK = re.compile(r"\A# file: (\S+)\n")


def blocks() -> list[tuple[str, str, str | None]]:
    """(language, body, file path or None) of every fenced block, in order."""
    out = []
    for lang, body in BLOCK.findall(GUIDE.read_text()):
        mark = FILE_MARK.match(body)
        out.append((lang, body[mark.end():] if mark else body, mark.group(1) if mark else None))
    return out


def files() -> dict[str, str]:
    joined: dict[str, str] = {}
    for _, body, path in blocks():
        if path:
            joined[path] = joined.get(path, "") + ("\n\n" if path in joined else "") + body
    return joined


def test_every_block_is_of_a_kind_this_test_executes():
    for lang, body, path in blocks():
        assert lang in ("python", "toml", "text", "bash"), f"block of language {lang!r} is not executed:\n{body}"
        assert lang != "toml" or path == "pyproject.toml", "a TOML block must be the guide's pyproject.toml"
        if lang == "bash":
            for line in filter(None, (ln.strip() for ln in body.splitlines())):
                assert re.match(r"(pip install -e |pytest$|metareg )", line), f"no way to run {line!r}"


def test_the_file_tree_lists_exactly_the_guide_files():
    [tree] = [body for lang, body, _ in blocks() if lang == "text"]
    root, *entries = [ln.rstrip() for ln in tree.splitlines() if ln.strip()]
    assert {e.strip() for e in entries} == set(files())


def test_the_guide_names_every_hook_and_every_contract_clause():
    import importlib

    text = GUIDE.read_text()
    hooks = [n for n in dir(hookspecs) if n.startswith("metareg_")]
    assert hooks and all(f"`{h}`" in text for h in hooks)
    clauses = [c.id for module in SUITES.values() for c in importlib.import_module(module).SUITE.clauses]
    missing = [c for c in clauses + [LOADS.id, UNIQUE.id, RUNS.id] if f"`{c}`" not in text]
    assert not missing, f"docs/plugins.md does not list clauses {missing}"


def test_the_readme_links_the_guide():
    assert "(docs/plugins.md)" in (ROOT / "README.md").read_text()


def _run_guide_tests(source: str) -> int:
    """Call every ``test_*`` function of the guide's test file, with the fixtures it names."""
    from metareg.testing import assert_conforms

    fixtures = {"metareg_check": assert_conforms}
    namespace: dict = {"__name__": "guide_tests"}
    exec(compile(source, "docs/plugins.md (tests/test_starter.py)", "exec"), namespace)
    tests = [fn for name, fn in namespace.items() if name.startswith("test_") and callable(fn)]
    for test in tests:
        test(**{arg: fixtures[arg] for arg in inspect.signature(test).parameters})
    return len(tests)


def test_the_guide_plugin_installs_passes_its_checks_and_runs(metareg_plugin_dist, run_cli, tmp_path):
    sources = files()
    project = tomllib.loads(sources["pyproject.toml"])["project"]
    modules = {path[: -len(".py")]: body for path, body in sources.items() if path.endswith(".py") and "/" not in path}
    root = metareg_plugin_dist(project["name"], modules, project["entry-points"]["metareg"], project["version"])
    for path, body in sources.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(body)

    namespace: dict = {"__name__": "guide"}
    ran = {"python": 0, "pytest": 0, "metareg": 0}
    for lang, body, path in blocks():
        if lang == "python" and path is None:
            exec(compile(body, "docs/plugins.md", "exec"), namespace)
            ran["python"] += 1
        if lang != "bash":
            continue
        for line in filter(None, (ln.strip() for ln in body.splitlines())):
            if line.startswith("pip install -e "):
                assert (root / "pyproject.toml").is_file()  # installed above, as pip would from this folder
            elif line == "pytest":
                ran["pytest"] += _run_guide_tests(sources["tests/test_starter.py"])
            else:
                code, out, err = run_cli(*shlex.split(line)[1:])
                assert code == 0, f"`{line}` exited {code}:\n{out}\n{err}"
                ran["metareg"] += 1
    assert ran == {"python": 3, "pytest": 2, "metareg": 2}

