"""Each ``metareg tune`` study as the board shows it: its trials' validation metric in the order they were tried,
and which one was selected.

A reader of a tuned row asks whether the search had converged or the selected value was one lucky draw among flat
trials; the validation-by-trial plot of the HTML report (``metareg.board.plots.study_plot``) answers it. Only
validation numbers are read (``metareg.tune.study.validation_value``), as the selection read them: the test metric
of a trial is never shown beside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from metareg.toolkit.metrics import HIGHER_IS_BETTER, task_metric_name


@dataclass
class TrialPoint:
    number: int
    params: dict
    value: float | None  # best validation metric of the trial's run; None when it failed or has not run
    state: str  # done | failed | not run


@dataclass
class StudyTrials:
    key: str
    label: str  # the combination's parts, e.g. "sinusoid + cavia"
    select: str
    metric: str | None
    higher_is_better: bool | None
    trials: list[TrialPoint] = field(default_factory=list)
    selected: int | None = None  # the number of the trial whose values the tuned row re-ran

    @property
    def scored(self) -> list[TrialPoint]:
        return [t for t in self.trials if t.value is not None]

    def best_so_far(self) -> list[tuple[int, float]]:
        """(trial number, best validation value up to it), over the scored trials: the search's progress."""
        out: list[tuple[int, float]] = []
        for t in self.scored:
            if not out:
                out.append((t.number, t.value))
                continue
            best = out[-1][1]
            better = t.value > best if self.higher_is_better else t.value < best
            out.append((t.number, t.value if better else best))
        return out


def study_trials(studies: Sequence[dict], rows) -> list[StudyTrials]:
    """The studies of ``Store.study_runs`` rows, each trial scored from the run that stands for its cell among
    ``rows`` (``RunRow``s), in study key and trial number order."""
    from metareg.board.build import cell_outcomes
    from metareg.tune.study import validation_value

    standing, _ = cell_outcomes(rows)
    out: dict[str, StudyTrials] = {}
    tuned_params: dict[str, dict] = {}
    for r in studies:
        spec = r["spec"]
        study = out.get(r["study"])
        if study is None:
            label = " + ".join(name for _, name in spec.get("axes", []))
            study = out[r["study"]] = StudyTrials(r["study"], label, spec.get("select", "?"), None, None)
        if r["role"] == "tuned":
            tuned_params[r["study"]] = r["params"]
        elif r["role"] == "trial":
            run = standing.get(r["config_hash"])
            study.trials.append(TrialPoint(r["number"], r["params"], None, run.status if run else "not run"))
            if study.metric is None and run is not None and run.metrics:
                study.metric = task_metric_name(run.metrics)
                study.higher_is_better = HIGHER_IS_BETTER.get(study.metric)
    hashes = {(r["study"], r["number"]): r["config_hash"] for r in studies if r["role"] == "trial"}
    for key, study in out.items():
        study.trials.sort(key=lambda t: t.number)
        if study.metric is not None:
            for t in study.trials:
                t.value = validation_value(standing.get(hashes[key, t.number]), study.metric,
                                           bool(study.higher_is_better))
        if key in tuned_params:
            study.selected = next((t.number for t in study.trials if t.params == tuned_params[key]), None)
    return [out[k] for k in sorted(out) if out[k].trials]
