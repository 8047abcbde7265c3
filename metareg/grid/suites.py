"""Suites: a named leaderboard written once as YAML, so ``metareg bench --suite NAME`` and ``metareg leaderboard
--suite NAME`` agree on exactly which cells make the board.

A suite file (``benchmarks/suites/NAME.yaml``)::

    description: one paragraph shown at the top of the report
    settings:                 # every cell, where the setting's part is in the cell
      train: {test_tasks: 600}
    grid:                     # one block, or a list of blocks whose cells are pooled
      - benchmark: sinusoid
        learner: [maml, reptile, finetune]
        seeds: 0-2
        settings: {train: {meta_iterations: 1000}}
      - benchmark: digits-shift
        learner: [protonet, maml]
        adversary: [none, dann]
    search:                   # optional: metareg tune's spaces, replacing or adding to the parts' own
      learner: {maml: {inner_lr: "log:0.01:1"}}
    paper:                    # optional: published values shown beside the cells they name (metareg.grid.paper)
      - where: {benchmark: sinusoid, learner: maml}
        value: 0.35
        source: Finn et al. 2017, Table 2

Suites are found by name in ``$METAREG_SUITES`` (folders separated by ``os.pathsep``), then ``./benchmarks/suites``,
then the suites installed with metareg (the ``metareg_suites`` package: ``benchmarks/suites`` of the source tree,
shipped as package data, so a wheel finds them without a checkout); a path to a ``.yaml`` file also works.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from metareg.errors import ConfigError
from metareg.grid.expand import AXES, Block, check_keys, parse_list, parse_seeds
from metareg.grid.paper import PaperValue, parse_paper
from metareg.run.config import _flatten, check_regular_file, read_mapping

SUITE_KEYS = ("description", "settings", "grid", "paper", "search")
BLOCK_KEYS = AXES + ("settings",)


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    blocks: tuple[Block, ...]
    #: the published values the board shows beside the cells they name (``metareg.grid.paper``)
    paper: tuple[PaperValue, ...] = ()
    #: ``metareg tune``'s search spaces for the suite's cells, replacing or adding to the parts' own
    #: (dotted key -> ``metareg.host.search`` distribution)
    search: tuple = ()


def suite_dirs() -> list[Path]:
    """Where suite names are looked up, in order."""
    dirs = [Path(p) for p in os.environ.get("METAREG_SUITES", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "benchmarks" / "suites")
    shipped = installed_suites()
    if shipped is not None:
        dirs.append(shipped)
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def installed_suites() -> Path | None:
    """The folder of the suites installed with metareg (``metareg_suites``' package data); None when an install
    made before the suites shipped as a package does not map it."""
    try:
        import metareg_suites
    except ImportError:
        return None
    return Path(metareg_suites.__file__).resolve().parent


def available_suites() -> dict[str, Path]:
    """Suite name -> file, the first folder in ``suite_dirs`` winning."""
    found: dict[str, Path] = {}
    for folder in suite_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found


def find_suite(name: str) -> Path:
    if name.endswith((".yaml", ".yml")) or os.sep in name:
        path = Path(name)
        check_regular_file(path, "suite file", "give a suite name or the path of a YAML file")
        return path
    suites = available_suites()
    if name in suites:
        return suites[name]
    close = difflib.get_close_matches(name, list(suites), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    where = ", ".join(str(d) for d in suite_dirs())
    missing = ("; metareg's own suites are not installed (no metareg_suites package): reinstall metareg, e.g. "
               "`pip install -e .` in its checkout" if installed_suites() is None else "")
    raise ConfigError(
        f"unknown suite {name!r}: {hint}available suites: {', '.join(sorted(suites)) or 'none found'} "
        f"(looked in {where}; set METAREG_SUITES to add a folder, or give the path of a .yaml file){missing}"
    )


def load_suite(name: str) -> Suite:
    """The suite called ``name`` (or at that path), checked key by key."""
    path = find_suite(name)
    data = read_mapping(path, "suite file", f"be a mapping with keys {', '.join(SUITE_KEYS)}")
    check_keys(data, SUITE_KEYS, f"suite {str(path)!r}")
    if "grid" not in data:
        raise ConfigError(f"suite {str(path)!r} has no 'grid': list the learners, benchmarks, ... it compares")
    common = _settings(data.get("settings"), f"suite {str(path)!r} settings")
    grid = data["grid"] if isinstance(data["grid"], list) else [data["grid"]]
    if not grid:
        raise ConfigError(f"suite {str(path)!r} has an empty 'grid', so there is nothing to run: list at least one "
                          f"block, e.g. grid: [{{learner: maml, benchmark: sinusoid}}]")
    blocks = []
    for i, entry in enumerate(grid):
        where = f"suite {str(path)!r} grid block {i + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping of axes ({', '.join(AXES)}) and settings")
        check_keys(entry, BLOCK_KEYS, where)
        axes = {axis: (parse_seeds(v) if axis == "seeds" else parse_list(v, axis, f"{where}: {axis}"))
                for axis, v in entry.items() if axis in AXES}
        blocks.append(Block(axes, common + _settings(entry.get("settings"), f"{where} settings")))
    paper = parse_paper(data.get("paper"), f"suite {str(path)!r}")
    return Suite(path.stem, path, str(data.get("description") or "").strip(), tuple(blocks), paper,
                 _search(data.get("search"), f"suite {str(path)!r} search"))


def _search(value, where: str) -> tuple:
    """A suite's ``search:`` block (``learner: {maml: {inner_lr: "log:0.01:1"}}``) as (dotted key, distribution)."""
    from metareg.host.search import from_mapping

    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of settings to search spaces, e.g. "
                          f"learner: {{maml: {{inner_lr: 'log:0.01:1'}}}}")
    return tuple((key, from_mapping(key, spec)) for key, spec in _flatten(value))


def _settings(value, where: str) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of config keys to values, e.g. train: {{meta_iterations: 100}}")
    return tuple(_flatten(value))
