"""``metareg plugins --check``: a table of every part's contract checks, exit 1 on any failure, broken plugins as rows.

Only the throw-away distributions each test writes are loaded (``METAREG_LOAD_PLUGINS``), so the tests run in
seconds; tests/host/test_conformance.py covers the built-ins.
"""
from __future__ import annotations

import json

import pytest

from helpers.toys import TOY_PLUGIN as GOOD  # registers toy-learner and toy-adversary, both correct


def renamed(base: str, name: str, hook: str) -> str:
    """The source of a plugin registering, through ``hook``, helpers.toys' ``base`` under the name ``name``."""
    return f'''
import metareg
from helpers.toys import {base}

class Renamed({base}):
    """{base}, registered as {name}."""
    name = "{name}"

@metareg.hookimpl
def {hook}(register):
    register(Renamed)
'''


#: breaks a clause only a run shows: predictions read the query targets
CHEAT = renamed("ReadsQueryTargets", "cheat", "metareg_register_learners")
#: registers the name toy-adversary, which GOOD registers too
DUPLICATE = renamed("ToyAdversary", "toy-adversary", "metareg_register_adversaries")
#: cannot be built from its defaults: it needs a path
NEEDS_SETTING = renamed("NeedsPath", "located", "metareg_register_benchmarks")
WRONG_SIGNATURE = '''
import metareg

@metareg.hookimpl
def metareg_register_learners(register, device):
    pass
'''


@pytest.fixture
def only(monkeypatch):
    """Load only the named entry points, as ``METAREG_LOAD_PLUGINS`` does."""
    def allow(*names: str) -> None:
        monkeypatch.setenv("METAREG_LOAD_PLUGINS", ",".join(names))

    return allow


def _rows(out: str) -> dict[str, list[str]]:
    """Table rows by plugin name: [family, part, distribution, version, result]."""
    rows: dict[str, list[str]] = {}
    for line in out.splitlines()[2:]:
        if not line.strip():
            break
        cells = line.split(None, 5)
        rows.setdefault(cells[0], []).append(cells[1:])
    return rows


def test_passing_plugins_give_a_table_and_exit_0(metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-good", {"metareg_good": GOOD}, {"good": "metareg_good"}, "1.2")
    only("good")
    code, out, _ = run_cli("plugins", "--check")
    assert code == 0, out
    assert out.splitlines()[0].split() == ["plugin", "family", "part", "distribution", "version", "result"]
    assert sorted(_rows(out)["good"]) == [["adversary", "toy-adversary", "metareg-good", "1.2", "pass"],
                                          ["learner", "toy-learner", "metareg-good", "1.2", "pass"]]


def test_every_kind_of_broken_plugin_is_a_failed_row_and_the_exit_code_is_1(metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-good", {"metareg_good": GOOD}, {"good": "metareg_good"})
    metareg_plugin_dist("metareg-cheat", {"metareg_cheat": CHEAT}, {"cheat": "metareg_cheat"})
    metareg_plugin_dist("metareg-twin", {"metareg_twin": DUPLICATE}, {"twin": "metareg_twin"})
    metareg_plugin_dist("metareg-sig", {"metareg_sig": WRONG_SIGNATURE}, {"sig": "metareg_sig"})
    metareg_plugin_dist("metareg-crash", {"metareg_crash": "raise RuntimeError('no GPU driver')\n"},
                        {"crash": "metareg_crash"})
    only("good", "cheat", "twin", "sig", "crash")
    code, out, err = run_cli("plugins", "--check")
    assert code == 1
    rows = _rows(out)
    good = {r[1]: r for r in rows["good"]}
    assert good["toy-learner"] == ["learner", "toy-learner", "metareg-good", "1.0", "pass"]
    [twin] = rows["twin"]  # toy-adversary is registered by both metareg-good and metareg-twin
    assert good["toy-adversary"][4].startswith("fail: [plugin.unique]") and "metareg-twin" in good["toy-adversary"][4]
    assert twin[4].startswith("fail: [plugin.unique]") and "metareg-good" in twin[4]
    [cheat] = rows["cheat"]
    assert cheat[:2] == ["learner", "cheat"] and cheat[4].startswith("fail: [learner.query_targets]")
    [sig] = rows["sig"]
    assert sig[4].startswith("fail: [plugin.load] invalid hook implementation") and "device" in sig[4]
    [crash] = rows["crash"]
    assert crash[2] == "metareg-crash" and "no GPU driver" in crash[4]
    assert "no GPU driver" in err  # the one warning line every command prints for a broken plugin


def test_json_rows_name_every_broken_clause(metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-cheat", {"metareg_cheat": CHEAT}, {"cheat": "metareg_cheat"}, "0.3")
    only("cheat")
    code, out, _ = run_cli("plugins", "--check", "--json")
    assert code == 1
    listing = json.loads(out)
    [row] = listing["parts"]
    assert listing["ok"] is False
    assert (row["plugin"], row["family"], row["part"], row["distribution"], row["version"], row["status"]) == \
        ("cheat", "learner", "cheat", "metareg-cheat", "0.3", "fail")
    assert [f["clause"] for f in row["failures"]] == ["learner.query_targets"]
    assert "never reads the query targets" in row["failures"][0]["text"]


def test_names_select_what_is_checked_and_an_unknown_name_exits_2_with_close_matches(
        metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-good", {"metareg_good": GOOD}, {"good": "metareg_good"})
    metareg_plugin_dist("metareg-cheat", {"metareg_cheat": CHEAT}, {"cheat": "metareg_cheat"})
    only("good", "cheat")
    code, out, _ = run_cli("plugins", "--check", "toy-adversary")
    assert code == 0 and list(_rows(out)) == ["good"] and len(_rows(out)["good"]) == 1
    code, out, err = run_cli("plugins", "--check", "toy-adversery")
    assert code == 2 and out == "" and "did you mean 'toy-adversary'" in err


def test_settings_reach_the_part_a_skipped_part_names_what_it_needs(metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-located", {"metareg_located": NEEDS_SETTING}, {"located": "metareg_located"})
    only("located")
    code, out, _ = run_cli("plugins", "--check")
    assert code == 0 and _rows(out)["located"][0][4].startswith("skip: needs settings") and "path" in out
    code, out, _ = run_cli("plugins", "--check", "benchmark.located.path=/data/somewhere")
    assert code == 0 and _rows(out)["located"][0][4] == "pass"
    code, _, err = run_cli("plugins", "--check", "located.path=/x")
    assert code == 2 and "<family>.<part>.<key>" in err
    code, _, err = run_cli("plugins", "--check", "benchmark.locatd.path=/x")
    assert code == 2 and "unknown benchmark 'locatd': did you mean 'located'" in err


def test_listing_without_check_is_unchanged_and_still_exits_0_with_broken_plugins(metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-crash", {"metareg_crash": "raise RuntimeError('no GPU driver')\n"},
                        {"crash": "metareg_crash"})
    only("crash")
    code, out, _ = run_cli("plugins")
    assert code == 0 and "plugins that failed to load" in out and "no GPU driver" in out
    code, _, err = run_cli("plugins", "maml")
    assert code == 2 and "--check" in err


#: an observer-only plugin: it implements a run hook and registers no part
OBSERVER = '''
"""Prints each finished run's status."""
import metareg

@metareg.hookimpl
def metareg_run_finished(config, result):
    print(result.status)
'''
#: an observer whose hook takes an argument its spec lacks: a load failure, not an observer
BAD_OBSERVER = OBSERVER.replace("(config, result)", "(config, result, tracker)")
#: a benchmark that cannot be built from its defaults, with a reason over several lines
MULTI_LINE_SKIP = renamed("NeedsPath", "layout", "metareg_register_benchmarks") + '''
def _init(self, config):
    raise metareg.ConfigError("benchmark.layout.path is not set; the folder must hold\\n  train/<class>/*.png\\n"
                              "  test/<class>/*.png")
Renamed.__init__ = _init
'''


def test_an_observer_is_listed_in_its_own_section_and_in_json(metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-watch", {"metareg_watch": OBSERVER}, {"watch": "metareg_watch"}, "2.1")
    metareg_plugin_dist("metareg-good", {"metareg_good": GOOD}, {"good": "metareg_good"})
    only("watch", "good")
    code, out, _ = run_cli("plugins")
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("observers"))
    assert code == 0 and lines[start + 1].split()[:3] == ["watch", "metareg-watch", "2.1"]
    assert "Prints each finished run's status." in lines[start + 1]
    assert not any(line.split()[0] == "good" for line in lines[start + 1:] if line.strip())  # parts only above
    code, out, _ = run_cli("plugins", "--json")
    listing = json.loads(out)
    assert listing["observers"] == [{"plugin": "watch", "distribution": "metareg-watch", "version": "2.1",
                                     "builtin": False, "hooks": ["metareg_run_finished"],
                                     "summary": "Prints each finished run's status."}]
    assert "watch" not in {p["plugin"] for p in listing["parts"]}


def test_the_builtin_tensorboard_logger_is_listed_as_an_observer(run_cli, only):
    only("tensorboard-log")
    code, out, _ = run_cli("plugins", "--json")
    [obs] = json.loads(out)["observers"]
    assert code == 0 and (obs["plugin"], obs["builtin"]) == ("tensorboard-log", True)
    assert obs["hooks"] == ["metareg_iteration_logged", "metareg_run_finished"]


def test_check_gives_an_observer_a_row_and_a_broken_one_is_a_failed_row(metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-watch", {"metareg_watch": OBSERVER}, {"watch": "metareg_watch"}, "2.1")
    metareg_plugin_dist("metareg-badwatch", {"metareg_badwatch": BAD_OBSERVER}, {"badwatch": "metareg_badwatch"})
    metareg_plugin_dist("metareg-good", {"metareg_good": GOOD}, {"good": "metareg_good"})
    only("watch", "badwatch", "good")
    code, out, _ = run_cli("plugins", "--check")
    rows = _rows(out)
    assert code == 1 and rows["watch"] == [["observer", "watch", "metareg-watch", "2.1", "pass"]]
    [bad] = rows["badwatch"]
    assert bad[4].startswith("fail: [plugin.load]") and "tracker" in bad[4]
    assert "observer rows: an observer has no runtime contract" in out
    code, out, _ = run_cli("plugins", "--check", "watch")  # an observer's name selects it, like a part's
    assert code == 0 and list(_rows(out)) == ["watch"]
    code, out, _ = run_cli("plugins", "--check", "good")
    assert code == 0 and "watch" not in _rows(out) and "observer rows" not in out


def test_check_shows_a_multi_line_reason_whole(metareg_plugin_dist, run_cli, only):
    metareg_plugin_dist("metareg-layout", {"metareg_layout": MULTI_LINE_SKIP}, {"layout": "metareg_layout"})
    only("layout")
    code, out, _ = run_cli("plugins", "--check")
    [row] = _rows(out)["layout"]
    assert code == 0 and row[4].startswith("skip: needs settings") and row[4].endswith("the folder must hold")
    table, _, rest = out.partition("\n\n")
    assert "<class>" not in table  # the table keeps one line per part; below it, the reason whole
    assert rest.startswith("benchmark 'layout' from metareg-layout 1.0: SKIP\n")
    assert "the folder must hold\n  train/<class>/*.png\n  test/<class>/*.png\n" in rest
