"""The harness's output: a ready-to-paste Markdown table with the environment it was measured in, or JSON.

One function per format over the same report dictionary, so the table in docs/performance.md and the JSON a
machine reads can never disagree.
"""
from __future__ import annotations

import json


def _mib(n: int | None) -> str:
    return "—" if n is None else f"{n / 2**20:,.1f} MiB"


def _x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def header(report: dict) -> list[str]:
    env = report["environment"]
    lines = []
    if env.get("command"):
        lines.append(f"Command: `{env['command']}`")
    lines.append(f"Device: {env['device']} ({env['device_name']}); torch {env['torch']}, Python {env['python']}, "
                 f"{env['threads']} thread(s)")
    load = lambda v: " / ".join(f"{x:.2f}" for x in v)  # noqa: E731
    lines.append(f"Load average (1/5/15 min): {load(env['load_before'])} before, {load(env['load_after'])} after")
    lines.append("References: " + "; ".join(f"{v}" for v in env["references"].values()))
    lines.append(f"Timing: median of {env['steps']} meta-steps after {env['warmup']} warm-up steps"
                 + ("; bf16 autocast" if env["amp"] else "") + ("; torch.compile" if env["compile"] else "")
                 + ("; glibc heap reuse (--heap-reuse)" if env.get("heap_reuse") else "")
                 + ("; tiny configuration (CI), not a measurement" if env["tiny"] else ""))
    lines.append(f"Gradient check: {env['check']}")
    lines.append(f"Peak memory: {env['memory_method']}")
    if env["busy"]:
        lines.append(f"**Warning: the machine was busy (load {env['load_before'][0]:.2f} before, "
                     f"{env['load_after'][0]:.2f} after, for {env['threads']} thread(s)): these timings are not "
                     f"valid; re-run on a quiet machine.**")
    return lines


def _check_cell(r: dict) -> str:
    if "grad_rel_diff" not in r:
        return "—"
    return f"{r['grad_rel_diff']:.1e}" + (" ✗" if r["status"] == "rejected" else "")


def markdown(report: dict) -> str:
    """The environment lines, then one table row per workload × learner × implementation (× sweep point)."""
    rows = report["results"]
    sweep = report["environment"].get("sweep")
    columns = ["workload", "learner", "implementation"]
    if sweep:
        columns.append("meta-batch" if sweep == "meta-batch" else "inner steps")
    cpu = report["environment"]["device"] == "cpu"
    columns += ["grad check (rel. diff.)", "s / meta-step"] + (["CPU s / meta-step"] if cpu else []) + [
        "tasks / s", "peak memory", "× per-task loop", "× learn2learn"]
    out = header(report) + ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [r["workload"], r["learner"], r["implementation"]]
        if "chunk" in r:
            side = f", {r['chunk_threads']} side by side" if r.get("chunk_threads", 1) > 1 else ""
            cells[-1] += f" (chunks of {r['chunk']}{side}, budget {_mib(r.get('memory_budget_bytes'))})"
        if sweep:
            cells.append(str(r["meta_batch"] if sweep == "meta-batch" else r["inner_steps"]))
        cells.append(_check_cell(r))
        if "seconds_per_step" in r:
            cells += [f"{r['seconds_per_step']:.4g}" + ("" if r.get("finite", True) else " (non-finite loss)")]
            cells += [f"{r['cpu_seconds_per_step']:.4g}"] if cpu else []
            cells += [f"{r['tasks_per_second']:.4g}", _mib(r.get("peak_memory_bytes")), _x(r.get("vs_loop")),
                      _x(r.get("vs_learn2learn"))]
        else:
            why = f"{r['status']}: {r.get('reason', '')}".replace("|", "/")
            cells += [why] + [""] * (len(columns) - len(cells) - 1)
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def as_json(report: dict) -> str:
    return json.dumps(report, indent=2, default=str)
