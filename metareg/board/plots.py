"""The leaderboard's figures as PNG bytes: per section, a bar chart with 95% CI whiskers, and the learning curves
(meta-training loss and validation metric against outer updates, mean over seeds).

Figures are made with matplotlib's object API on the Agg canvas (no pyplot state, no display), so a report can be
built in a worker, a CI job or a server, and embedded in an HTML file as data URIs.
"""
from __future__ import annotations

import io
import math

from metareg.board.build import Entry, Section

BASELINE_COLOUR = "#7f8c8d"
VARIANT_COLOUR = "#2e86de"


def _png(figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def bar_chart(section: Section) -> bytes | None:
    """Bars of each row's mean with its 95% CI as whiskers; baselines grey. None when no row has a result."""
    from matplotlib.figure import Figure

    rows = [e for e in section.entries if e.estimate is not None]
    if not rows:
        return None
    figure = Figure(figsize=(max(4.0, 0.9 * len(rows) + 1.5), 3.4))
    ax = figure.add_subplot()
    means = [e.estimate.mean for e in rows]
    errors = [e.estimate.ci95 or 0.0 for e in rows]
    colours = [BASELINE_COLOUR if e.is_baseline else VARIANT_COLOUR for e in rows]
    positions = range(len(rows))
    ax.bar(positions, means, yerr=errors, capsize=4, color=colours, edgecolor="black", linewidth=0.5)
    ax.set_xticks(list(positions), [e.label for e in rows], rotation=30, ha="right", fontsize=8)
    arrow = {True: " (higher is better)", False: " (lower is better)"}.get(section.higher_is_better, "")
    ax.set_ylabel(f"{section.metric}, mean ± 95% CI")
    ax.set_title(f"{section.title}: {section.metric}{arrow}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _png(figure)


def mean_curve(entry: Entry, key: str) -> tuple[list[int], list[float]]:
    """``key`` of the entry's logged history against iteration, averaged over the seeds that logged it."""
    values: dict[int, list[float]] = {}
    for history in entry.histories:
        for point in history:
            value = point.get(key)
            if value is not None and math.isfinite(value):
                values.setdefault(int(point["iteration"]), []).append(float(value))
    iterations = sorted(values)
    return iterations, [math.fsum(values[i]) / len(values[i]) for i in iterations]


def learning_curves(section: Section) -> bytes | None:
    """Meta-training loss and validation metric per row (mean over seeds), and, when an adversary reports one, the
    domain discriminator's accuracy over training (whether and when the features aligned); None when nothing
    was logged."""
    from matplotlib.figure import Figure

    from metareg.board.build import DOMAIN_ACCURACY

    metric = f"val_{section.metric}"
    panels = [("train_loss", "meta-training loss"), (metric, f"validation {section.metric}")]
    if section.has_domain_accuracy:
        panels.append((DOMAIN_ACCURACY, "domain discriminator accuracy"))
    curves = [[(e, mean_curve(e, key)) for e in section.entries] for key, _ in panels]
    if not any(xs for panel in curves for _, (xs, _) in panel):
        return None
    figure = Figure(figsize=(4.5 * len(panels), 3.2))
    for i, ((key, title), panel) in enumerate(zip(panels, curves)):
        ax = figure.add_subplot(1, len(panels), i + 1)
        for entry, (xs, ys) in panel:
            if xs:
                ax.plot(xs, ys, marker="o" if len(xs) < 4 else None, markersize=3, label=entry.label)
        ax.set_xlabel("outer update")
        ax.set_title(f"{section.title}: {title}", fontsize=10)
        ax.grid(alpha=0.3)
        if not any(xs for _, (xs, _) in panel):
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="grey")
    handles, labels = figure.axes[0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    return _png(figure)


def study_plot(study) -> bytes | None:
    """A ``metareg tune`` study's validation metric by trial (``metareg.board.studies.StudyTrials``): each trial a
    point, the best so far a step line, the selected trial ringed; failed trials as crosses on the axis. None when
    no trial has a validation value."""
    from matplotlib.figure import Figure

    scored = study.scored
    if not scored:
        return None
    figure = Figure(figsize=(5.0, 3.2))
    ax = figure.add_subplot()
    ax.plot([t.number for t in scored], [t.value for t in scored], "o", color=VARIANT_COLOUR, label="trial")
    best = study.best_so_far()
    ax.step([n for n, _ in best], [v for _, v in best], where="post", color="black", linewidth=1,
            label="best so far")
    chosen = next((t for t in scored if t.number == study.selected), None)
    if chosen is not None:
        ax.plot([chosen.number], [chosen.value], "o", markersize=12, markerfacecolor="none",
                markeredgecolor="#e74c3c", markeredgewidth=2, label="selected")
    failed = [t.number for t in study.trials if t.value is None]
    if failed:
        ax.plot(failed, [min(t.value for t in scored)] * len(failed), "x", color="#7f8c8d",
                label="failed or not run")
    if study.higher_is_better is False and all(t.value > 0 for t in scored):
        ax.set_yscale("log")  # a regression loss spans decades across learning rates
    arrow = {True: " (higher is better)", False: " (lower is better)"}.get(study.higher_is_better, "")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {study.metric}")
    ax.set_title(f"{study.label}: {len(study.trials)} trials, {study.select}{arrow}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(figure)
