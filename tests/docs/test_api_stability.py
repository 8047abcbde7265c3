"""The public API is what ``metareg.__all__`` and ``metareg.testing.__all__`` list, and it never changes silently.

``tests/docs/api_surface.txt`` records it: every exported name with its signature, every class's own public methods
and class attributes, dataclass fields, and the hook specs with their arguments. A change to any of them fails
``test_public_api_matches_the_recorded_surface`` with a diff. When the change is deliberate (specs and contracts
only ever grow by keyword arguments: see metareg/host/hookspecs.py), regenerate the record with

    METAREG_UPDATE_API_SURFACE=1 python -m pytest -q tests/docs/test_api_stability.py

and commit it with the change, so the review sees the API diff.
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import metareg

RECORD = Path(__file__).with_name("api_surface.txt")


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _class_lines(qual: str, cls: type) -> list[str]:
    bases = ", ".join(b.__name__ for b in cls.__bases__)
    lines = [f"class {qual}({bases})"]
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            default = "" if f.default is dataclasses.MISSING else f" = {f.default!r}"
            lines.append(f"  field {f.name}: {f.type}{default}")
    own = cls.__dict__
    for name in sorted(own):
        if name.startswith("_") and name != "__init__":
            continue
        value = own[name]
        if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
            continue
        if isinstance(value, (staticmethod, classmethod)):
            lines.append(f"  {type(value).__name__} {name}{_signature(value.__func__)}")
        elif isinstance(value, property):
            lines.append(f"  property {name}")
        elif inspect.isfunction(value):
            lines.append(f"  def {name}{_signature(value)}")
        elif inspect.isclass(value):
            lines.append(f"  class {name}")
        else:
            lines.append(f"  {name} = {value!r}")
    for name, annotation in sorted(own.get("__annotations__", {}).items()):
        if name not in own and not dataclasses.is_dataclass(cls):
            lines.append(f"  {name}: {annotation}")
    return lines


def _describe(qual: str, obj) -> list[str]:
    if inspect.ismodule(obj):
        return [f"module {qual} (its __all__ below)"]
    if inspect.isclass(obj):
        return _class_lines(qual, obj)
    if type(obj).__name__ == "FixtureFunctionDefinition" or hasattr(obj, "_pytestfixturefunction"):
        return [f"fixture {qual}"]
    if inspect.isfunction(obj):
        return [f"def {qual}{_signature(obj)}"]
    if hasattr(obj, "project_name"):  # pluggy's HookimplMarker / HookspecMarker
        return [f"{qual} = {type(obj).__name__}({obj.project_name!r})"]
    return [f"{qual} = {obj!r}"]


def surface() -> list[str]:
    """The public API as text, one fact per line, in a fixed order."""
    import metareg.testing
    from metareg.host import hookspecs

    lines = [f"metareg.__all__: {', '.join(metareg.__all__)}"]
    for name in sorted(metareg.__all__):
        if name != "__version__":
            lines += _describe(f"metareg.{name}", getattr(metareg, name))
    lines.append(f"metareg.testing.__all__: {', '.join(metareg.testing.__all__)}")
    for name in sorted(metareg.testing.__all__):
        lines += _describe(f"metareg.testing.{name}", getattr(metareg.testing, name))
    for name, fn in sorted(vars(hookspecs).items()):
        spec = getattr(fn, "metareg_spec", None)
        if spec is not None:
            lines.append(f"hookspec {name}{_signature(fn)} firstresult={spec.get('firstresult', False)} "
                         f"historic={spec.get('historic', False)}")
    return lines


def test_public_api_matches_the_recorded_surface():
    current = surface()
    if os.environ.get("METAREG_UPDATE_API_SURFACE") == "1":
        RECORD.write_text("\n".join(current) + "\n")
    recorded = RECORD.read_text().splitlines()
    diff = "\n".join(difflib.unified_diff(recorded, current, "tests/docs/api_surface.txt", "current API", lineterm=""))
    assert not diff, (
        "the public API changed; if that is deliberate, regenerate the record with "
        "METAREG_UPDATE_API_SURFACE=1 python -m pytest -q tests/docs/test_api_stability.py\n" + diff
    )


def test_all_lists_exactly_the_lazily_exported_names_and_each_resolves():
    declared = set(metareg.__all__)
    assert declared == set(metareg._EXPORTS) | set(metareg._SUBMODULES) | {"__version__"}
    assert len(metareg.__all__) == len(declared)
    for name in metareg.__all__:
        assert getattr(metareg, name) is not None
    assert sorted(dir(metareg)) == sorted(metareg.__all__)


def test_the_testing_kit_is_the_public_submodule_and_lists_what_it_defines():
    assert metareg.testing is sys.modules["metareg.testing"]
    assert all(hasattr(metareg.testing, name) for name in metareg.testing.__all__)


def test_importing_metareg_and_its_test_kit_does_not_import_torch():
    """``metareg --help`` and every pytest session with metareg installed (the pytest11 plugin) stay fast."""
    code = "import sys, metareg, metareg.testing; metareg.hookimpl; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
