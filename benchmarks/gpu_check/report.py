"""The GPU check's report: one Markdown file, a section per check, written after every check so a run cut off by
its time limit still leaves what it measured."""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Outcome:
    """One check's result: ``status`` is passed, failed, skipped or error; ``body`` is Markdown (a table, a list)."""

    name: str
    status: str
    summary: str
    body: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    path: Path
    environment: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.write()

    def markdown(self) -> str:
        lines = ["# metareg GPU check", "", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.", ""]
        lines += [f"- {k}: {v}" for k, v in self.environment.items()]
        lines += ["", "| check | status | summary | seconds |", "|---|---|---|---|"]
        lines += [f"| {o.name} | {o.status} | {o.summary} | {o.seconds:.1f} |" for o in self.outcomes]
        for o in self.outcomes:
            if o.body:
                lines += ["", f"## {o.name}", "", o.body.rstrip()]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(self.markdown(), encoding="utf-8")
        tmp.replace(self.path)


def environment() -> dict[str, str]:
    """What the numbers depend on: torch, CUDA and the device, Python."""
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__,
           "cuda (torch build)": str(torch.version.cuda), "cuda available": str(torch.cuda.is_available())}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env["device"] = f"{props.name}, {props.total_memory / 2**30:.0f} GiB, {torch.cuda.device_count()} visible"
    return env
