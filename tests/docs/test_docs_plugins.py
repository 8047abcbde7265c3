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

import pytest

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
    assert ran == {"python": 4, "pytest": 2, "metareg": 2}



def _guide_before_the_removals() -> str:
    """The guide up to its list of removed names (which name what no longer exists, on purpose)."""
    text = GUIDE.read_text()
    return text[: text.index("Deliberate changes so far")]


def test_every_relative_link_of_the_guide_resolves():
    targets = re.findall(r"\]\(([^)\s#]+)", GUIDE.read_text())
    broken = [t for t in targets if "://" not in t and not (GUIDE.parent / t).exists()]
    assert targets and not broken, f"docs/plugins.md links to missing files: {broken}"


def test_every_metareg_name_the_guide_uses_exists():
    import importlib

    def resolves(dotted: str) -> bool:
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                return False
            return True
        return False

    names = set(re.findall(r"`(metareg(?:\.[A-Za-z_]\w*)+)", _guide_before_the_removals()))
    missing = sorted(n for n in names if not resolves(n))
    assert len(names) > 20 and not missing, f"docs/plugins.md names what metareg lacks: {missing}"


def _documented(call: str) -> list[str]:
    """The parameters of ``call(...)`` as the guide spells them in inline code, e.g. ``with_support(x, y, ...)``."""
    found = re.search(rf"`(?:[\w.]*\.)?{re.escape(call)}\(([^`]*?)\)(?: -> [^`]*)?`", GUIDE.read_text())
    assert found, f"docs/plugins.md does not spell out {call}(...)"
    return [p.strip() for p in found.group(1).replace("\n", " ").split(",")]


def test_the_guide_spells_these_signatures_as_the_code_has_them():
    """Positional parameters may be named for the reader (``x`` for ``support_x``); their number, the keywords with
    defaults, and which are keyword-only must be the code's."""
    import metareg
    import metareg.testing as testing

    for call, fn in {"with_support": metareg.TaskBatch.with_support, "assert_conforms": testing.assert_conforms,
                     "check_plugin": testing.check_plugin, "write_plugin_dist": testing.write_plugin_dist,
                     "resolve_strategy": metareg.resolve_strategy, "embed_tasks": metareg.embed_tasks}.items():
        params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
        doc = _documented(call)
        star = doc.index("*") if "*" in doc else len(doc)
        named = [d for d in doc if d != "*"]
        assert len(named) == len(params), (call, doc, params)
        assert {d.split("=")[0] for d in named if "=" in d} == {p.name for p in params if p.default is not p.empty}, \
            (call, doc)
        assert {d.split("=")[0] for d in doc[star + 1:]} == {p.name for p in params if p.kind is p.KEYWORD_ONLY}, \
            (call, doc)


def test_the_fixture_result_the_guide_names_is_the_testing_kit_report():
    import metareg.testing as testing

    text = GUIDE.read_text()
    assert "CheckReport" not in text and "metareg.testing.Report" in text
    report = testing.Report()
    assert {"Report", "assert_conforms", "check_plugin", "write_plugin_dist"} <= set(testing.__all__)
    assert report.ok is True and report.parts == [] and report.failed == [] and isinstance(report.format(), str)


def test_embed_tasks_auto_is_not_resolve_strategy_auto(monkeypatch):
    """The guide: ``embed_tasks``' ``auto`` never picks grouped; on the CPU a convolutional backbone runs the loop,
    while ``resolve_strategy``'s ``auto`` picks grouped for a backbone offering ``task_layers()``."""
    import torch
    from torch import nn

    import metareg
    from metareg.toolkit import strategies

    class Conv(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.flat = nn.Conv2d(1, 2, 3), nn.Flatten()

        def forward(self, x):
            return self.flat(self.conv(x))

        def task_layers(self):
            return [("conv", self.conv), ("flat", self.flat)]

    backbone, seen = Conv(), []
    assert metareg.resolve_strategy("auto", backbone, torch.device("cpu")) == "grouped"
    monkeypatch.setattr(strategies, "grouped_forward", lambda *a: pytest.fail("embed_tasks' auto chose grouped"))
    per_task = strategies.per_task
    monkeypatch.setattr(strategies, "per_task", lambda fn, vectorize, *xs: seen.append(vectorize) or
                        per_task(fn, vectorize, *xs))
    x = torch.randn(2, 3, 1, 5, 5)
    support, query = metareg.embed_tasks(backbone, metareg.TaskBatch(x, torch.zeros(2, 3), x[:, :2], torch.zeros(2, 2)))
    assert seen == [False] and support.shape == (2, 3, 18) and query.shape == (2, 2, 18)


def test_a_removed_task_batch_keyword_names_its_fix():
    import torch

    import metareg

    t = torch.zeros(1, 2, 1)
    with pytest.raises(TypeError, match=r"removed keyword 'domain'.*drop the argument"):
        metareg.TaskBatch(t, t, t, t, domain="source")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):  # any other stays Python's own
        metareg.TaskBatch(t, t, t, t, colour="red")
    assert "domain" in (ROOT / "CHANGELOG.md").read_text()
