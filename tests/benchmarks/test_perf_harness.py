"""The performance harness (benchmarks/perf) end to end in its tiny configuration: structure, not timings.

What must hold whatever the machine: every implementation is checked against the plain per-task loop before it
is timed, and one that computes a different meta-gradient is refused a speed. The tiny run also pins metareg's
vmap, loop and grouped execution strategies of every learner to the independent loop in float64.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is part of the checkout, not of the installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.perf import harness, report  # noqa: E402
from benchmarks.perf.cli import main as perf_main  # noqa: E402
from benchmarks.perf.implementations import Implementation, Metareg  # noqa: E402

METAREG = ["torch-loop", "metareg-vmap", "metareg-loop", "metareg-grouped"]


@pytest.fixture(scope="module")
def tiny_report():
    options = harness.Options(tiny=True, steps=2, warmup=1, threads=1,
                              implementations=METAREG + ["learn2learn", "higher"])
    return harness.run(options)


def test_tiny_run_checks_and_times_every_learner(tiny_report):
    env, rows = tiny_report["environment"], tiny_report["results"]
    for key in ("device", "torch", "threads", "load_before", "load_after", "busy", "references", "memory_method"):
        assert key in env
    assert env["threads"] == 1
    assert {"learn2learn", "higher"} <= set(env["references"])
    assert not [r for r in rows if r["status"] in ("error", "rejected")], [r for r in rows if r["status"] != "ok"]
    ok = {(r["workload"], r["learner"], r["implementation"]) for r in rows if r["status"] == "ok"}
    for learner in ("maml", "fomaml", "reptile", "cavia"):
        for impl in ("torch-loop", "metareg-vmap", "metareg-loop"):
            assert ("sinusoid", learner, impl) in ok and ("conv4", learner, impl) in ok
    for learner in ("maml", "fomaml", "reptile", "protonet"):  # per-task weights, or shared ones, as grouped convs
        assert ("conv4", learner, "metareg-grouped") in ok
    skipped = {(r["workload"], r["learner"], r["implementation"]): r["reason"]
               for r in rows if r["status"] == "skipped"}
    assert "regression" in skipped[("sinusoid", "protonet", harness.ALL)]
    assert "MAML only" in skipped[("conv4", "reptile", "higher")]
    for r in rows:
        if r["status"] == "ok":
            assert r["grad_rel_diff"] <= 1e-6
            assert r["seconds_per_step"] > 0 and len(r["step_seconds"]) == 2 and r["finite"]
            assert r["tasks_per_second"] == pytest.approx(r["meta_batch"] / r["seconds_per_step"])
            assert r["vs_loop"] > 0
            if env["device"] == "cpu" and sys.platform.startswith("linux"):
                assert isinstance(r["peak_memory_bytes"], int) and r["peak_memory_bytes"] >= 0


def test_markdown_and_json_carry_every_row_and_the_environment(tiny_report):
    table = report.markdown(tiny_report)
    lines = table.splitlines()
    assert any(line.startswith("Device: cpu") or line.startswith("Device: cuda") for line in lines)
    assert any(line.startswith("Load average") for line in lines)
    body = [line for line in lines if line.startswith("| ") and not line.startswith("| workload")]
    assert len(body) == len(tiny_report["results"])
    assert json.loads(report.as_json(tiny_report))["results"][0].keys() == tiny_report["results"][0].keys()
    busy = {**tiny_report, "environment": {**tiny_report["environment"], "busy": True}}
    assert "machine was busy" in report.markdown(busy)
    quiet = {**tiny_report, "environment": {**tiny_report["environment"], "busy": False}}
    assert "machine was busy" not in report.markdown(quiet)


class _WrongInnerRate(Metareg):
    """metareg's MAML with its inner step size 10% off: close, fast, and wrong."""

    def __init__(self, case):
        w = case.workload
        lrs = {k: v * 1.1 for k, v in w.inner_lr.items()}
        super().__init__(dataclasses.replace(case, workload=w.replace(inner_lr=lrs)), vectorize="vmap")


class _FirstOrderAsSecond(Metareg):
    """First-order MAML claiming to be second order: the dropped terms are what the check must see."""

    def __init__(self, case):
        super().__init__(dataclasses.replace(case, learner="fomaml" if case.learner == "maml" else case.learner),
                         vectorize="vmap")


@pytest.mark.parametrize("wrong", [_WrongInnerRate, _FirstOrderAsSecond])
def test_gradient_check_refuses_a_speed_to_a_wrong_implementation(wrong):
    extra = {"wrong": Implementation("wrong", wrong, "deliberately wrong")}
    options = harness.Options(workloads=["conv4"], learners=["maml"], implementations=["torch-loop", "wrong"],
                              tiny=True, steps=1, warmup=0, memory=False, extra=extra)
    rows = {r["implementation"]: r for r in harness.run(options)["results"]}
    assert rows["torch-loop"]["status"] == "ok"
    bad = rows["wrong"]
    assert bad["status"] == "rejected" and bad["grad_rel_diff"] > 1e-6
    assert "seconds_per_step" not in bad and "no speed" in bad["reason"]
    assert "rejected" in report.markdown(harness.run(options))


def test_cli_json_and_metareg_perf_are_one_command(capsys):
    args = ["--tiny", "--workload", "sinusoid", "--learner", "maml", "--impl", "torch-loop", "metareg-vmap",
            "--steps", "1", "--warmup", "0", "--threads", "1", "--json", "--quiet", "--heap-reuse"]
    assert perf_main(args) == 0
    direct = json.loads(capsys.readouterr().out)
    from metareg.commands.cli import main as metareg_main

    assert metareg_main(["perf", *args]) == 0
    via_metareg = json.loads(capsys.readouterr().out)
    assert via_metareg["environment"]["command"].startswith("metareg perf --tiny")
    assert direct["environment"]["heap_reuse"] == sys.platform.startswith("linux")
    for got in (direct, via_metareg):
        assert [(r["implementation"], r["status"]) for r in got["results"]] == [("torch-loop", "ok"),
                                                                               ("metareg-vmap", "ok")]


def test_metareg_perf_outside_a_checkout_names_the_fix(monkeypatch, capsys):
    from metareg.commands.cli import main as metareg_main
    from metareg.commands import perf

    monkeypatch.setattr(perf, "checkout_root", lambda: None)
    assert metareg_main(["perf", "--tiny"]) == 2
    err = capsys.readouterr().err
    assert "source checkout" in err and "pip install -e" in err


@pytest.mark.parametrize("learner", ["maml", "reptile", "protonet"])
def test_grouped_predictions_equal_the_per_task_loop(learner):
    """``predict`` (meta-test) is not timed by the harness, so its grouped path is pinned here, in float64."""
    import torch

    from benchmarks.perf.implementations import metareg_learner
    from benchmarks.perf.workloads import WORKLOADS, cast, tiny

    w = tiny(WORKLOADS["conv4"])
    batch = cast(w.sample(0), torch.float64)
    out = {}
    for vectorize in ("loop", "grouped"):
        torch.manual_seed(0)
        model = metareg_learner(w, learner, vectorize).double()
        out[vectorize] = model.predict(batch)
    assert out["grouped"].shape == (w.meta_batch, w.n_outputs * w.query, w.n_outputs)
    torch.testing.assert_close(out["grouped"], out["loop"], rtol=1e-9, atol=1e-12)


def test_chunked_variants_are_checked_timed_and_measured_beside_their_strategy():
    options = harness.Options(workloads=["conv4"], learners=["maml"], implementations=["torch-loop", "metareg-grouped"],
                              tiny=True, steps=2, warmup=0, chunks=(1, 2), log=None)
    result = harness.run(options)
    rows = [(r["implementation"], r["status"]) for r in result["results"]]
    assert rows == [("torch-loop", "ok"), ("metareg-grouped", "ok"), ("metareg-grouped/chunk1", "ok"),
                    ("metareg-grouped/chunk2", "ok")]
    assert "on the first 4 tasks" in result["environment"]["check"]  # 2 + 1 < 4: every chunk size split it
    for r in result["results"]:
        assert r["grad_rel_diff"] <= 1e-6 and len(r["step_seconds"]) == 2 and "peak_memory_bytes" in r
    assert "metareg-grouped/chunk2" in report.markdown(result)


def test_metareg_auto_reports_the_chunk_its_memory_probe_chose_within_the_budget():
    options = harness.Options(workloads=["conv4"], learners=["maml"], implementations=["torch-loop", "metareg-auto"],
                              tiny=True, steps=1, warmup=0, memory_budget=100_000, log=None)
    result = harness.run(options)
    auto = {r["implementation"]: r for r in result["results"]}["metareg-auto"]
    assert auto["status"] == "ok" and auto["chunk"] == 2  # the tiny batch fits whole in 100,000 MiB
    assert auto["memory_budget_bytes"] == 100_000 * 2**20
    assert "| metareg-auto (chunks of 2, budget 100,000.0 MiB) |" in report.markdown(result)
