"""The leaderboard rendered as Markdown, HTML, CSV or JSON: one table structure, one function per format.

``section_table`` turns a section of the :class:`~metareg.board.build.Board` into the display table (header, cells,
which cells are bold), and Markdown and HTML both print that table, so they cannot disagree. CSV and JSON give the
same rows as raw numbers (``records``) for scripts. The HTML report is one self-contained file: its plots are PNG
data URIs and its style is inline, so it opens in a browser from disk with no server and no network.

With ``curves`` (``metareg leaderboard --curves``) Markdown and HTML add ``curve_table`` after each section's table:
the same rows, one column per validation iteration, and where each row's mean peaks; JSON adds the same numbers
under each section's ``curves`` key. CSV, one flat table of rows, has no place for them and is unchanged. Without
``curves`` every format is exactly what it was before the option existed. A suite's ``paper:`` block
(``metareg.grid.paper``) adds the paper columns and a list of sources; without it, the same holds.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from dataclasses import dataclass
from typing import Callable

from metareg.board.build import Board, Curve, Entry, Section
from metareg.board.headroom import fmt_share, role
from metareg.toolkit.stats import Estimate

MISSING = "—"
DOMAIN_HEADER = "adversary's own domain acc. (training, last 25%)"
PROBE_HEADER = "probe domain acc. (held out)"
PAPER_HEADERS = ["paper", "Δ vs paper", "intervals overlap"]
PAPER_TITLE = "Published values"


@dataclass(frozen=True)
class Cell:
    text: str
    bold: bool = False


def _estimate(e: Estimate | None, digits: int = 3) -> str:
    if e is None:
        return MISSING
    return f"{e.mean:.{digits}f}" + (f" ± {e.ci95:.{digits}f}" if e.ci95 is not None else "")


def _best(values: list[float | None], higher: bool | None, improves: bool = False) -> float | None:
    """The best of the present values in the given direction, when it is a real best: at least two compete and it
    beats at least one of them; with ``improves`` (the Δ column) it must also be on the better side of zero.
    None otherwise, so nothing is bold."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    if higher is None or len(present) < 2:
        return None
    best = max(present) if higher else min(present)
    if all(v == best for v in present) or (improves and (best <= 0 if higher else best >= 0)):
        return None
    return best


def section_table(section: Section) -> tuple[list[str], list[list[Cell]]]:
    """The display table of one section: a row per combination, best per column bold."""
    higher = section.higher_is_better
    arrow = {True: " ↑", False: " ↓"}.get(higher, "")
    with_settings = any(e.settings or e.study_role for e in section.entries)
    with_domain = section.has_domain_accuracy
    with_probe = section.has_probe
    with_paper = section.has_paper
    header = ["rank", "learner", "backbone", "adversary", "generator"] + (["settings"] if with_settings else []) + [
        f"{section.metric or 'metric'}{arrow} (mean ± 95% CI)", "n"] + (PAPER_HEADERS if with_paper else []) + [
        "baseline", "Δ vs baseline", "runs", "failed", "wall s/run"] + ([DOMAIN_HEADER] if with_domain else []) + (
        [PROBE_HEADER] if with_probe else [])
    entries = section.entries
    # an oracle or source-test row is a reference, not a method: it competes for no bold cell
    methods = [e if role(e) is None else None for e in entries]
    best_mean = _best([e.estimate.mean if e and e.estimate else None for e in methods], higher)
    best_delta = _best([e.delta if e else None for e in methods], higher, improves=True)
    best_wall = _best([e.wall_time if e else None for e in methods], False)
    rows = []
    for e, method in zip(entries, methods):
        runs = f"{e.runs}/{e.planned}" if e.planned else str(e.runs)
        row = [Cell(str(e.rank) if e.rank else MISSING), Cell(e.parts["learner"] or MISSING),
               Cell(e.parts["backbone"] or MISSING), Cell(e.parts["adversary"] or MISSING),
               Cell(e.parts["generator"] or MISSING)]
        row += [Cell((f"[{e.study_role}] " if e.study_role else "") + e.settings)] if with_settings else []
        row += [
            Cell(_estimate(e.estimate), method is not None and e.estimate is not None and e.estimate.mean == best_mean),
            Cell(str(e.estimate.n) if e.estimate else MISSING),
        ]
        if with_paper:
            row += _paper_cells(e)
        row += [
            Cell("(this row)" if e.is_baseline else _estimate(e.baseline.estimate if e.baseline else None)),
            Cell(MISSING if e.delta is None else f"{e.delta:+.3f}",
                 method is not None and e.delta is not None and e.delta == best_delta),
            Cell(runs),
            Cell(str(e.failed)),
            Cell(MISSING if e.wall_time is None else f"{e.wall_time:.1f}",
                 method is not None and e.wall_time is not None and e.wall_time == best_wall),
        ]
        if with_domain:
            row.append(Cell(MISSING if e.domain_accuracy is None else f"{e.domain_accuracy:.2f}"))
        if with_probe:
            row.append(Cell(MISSING if e.probe_accuracy is None else f"{e.probe_accuracy:.2f}"))
        rows.append(row)
    return header, rows


def _paper_cells(e: Entry) -> list[Cell]:
    if e.paper is None:
        return [Cell(MISSING)] * 3
    overlap = e.paper_overlap
    return [Cell(e.paper.text), Cell(MISSING if e.paper_delta is None else f"{e.paper_delta:+.3f}"),
            Cell(MISSING if overlap is None else ("yes" if overlap else "no"))]


def paper_note(section: Section) -> str:
    """The sentence under a section's published values: what the paper columns mean."""
    return ("Paper: the published value for the row's cells, with its ± as the paper states it (95% CI or sd; none "
            "where it gives none). Δ vs paper = our mean − the paper's value. Intervals overlap: whether our 95% CI "
            "and the paper's interval meet; where the paper gives none, whether our CI holds its value. Each "
            "value's source and the protocol facts that decide it:")


def paper_sources(section: Section) -> list[str]:
    """One line per published value of the section: its name, source and protocol."""
    return [f"{p.name}: {p.text}. {p.source}" + (f". {p.protocol}" if p.protocol else "") for p in section.papers]


def section_note(section: Section) -> str:
    """The sentence under a section's title: what the numbers are (or, with no finished run to name the metric,
    why there are none, rather than "Test metric ()")."""
    if section.metric is None:
        return ("No run on this benchmark has finished, so there is no test metric to show yet; the errors of the "
                "runs that failed are listed under the table (`metareg runs --status failed` shows every one).")
    direction = {True: "higher is better", False: "lower is better"}.get(section.higher_is_better, "")
    said = f" ({direction})" if direction else ""
    return (f"Test {section.metric}{said} on the benchmark's test episodes (its target domain "
            f"where it has one): mean ± Student-t 95% CI over every seed's episodes (n episodes). Baseline: the same "
            f"learner with no adversary and no generator; Δ = mean − baseline mean. Bold: best in its column."
            + (" Adversary's own domain acc.: its discriminator on source against target features over the last "
               "quarter of meta-training, mean over seeds; it lags the features it is trained against, so read "
               "alignment from the probe." if section.has_domain_accuracy else "")
            + (" Probe domain acc.: after training, a fresh discriminator on the frozen features of source and "
               "target episodes, scored on episodes it never saw, mean over seeds (0.5: the domains cannot be told "
               "apart; metareg/run/probe.py)." if section.has_probe else "")
            + (" Rows with a domain setting (train_domain=target: the oracle; test_domain=source: the source test) "
               "are references, not methods: unranked, never bold, and measured against in the headroom table."
               if any(role(e) for e in section.entries) else ""))


def headroom_table(section: Section) -> tuple[list[str], list[list[Cell]]]:
    """The headroom view (``metareg.board.headroom``) as one table: a row per adversary or generator row of each
    reference combination, or one row with none, beside its baseline, oracle and source test."""
    header = ["learner", "backbone", "settings", "baseline", "oracle", "source test", "gap (oracle − baseline)",
              "seeds' spread", "row", "Δ vs baseline", "per-seed Δ", "share of gap closed"]
    rows = []
    for view in section.headroom:
        base = view.baseline
        first = [Cell(base.parts["learner"] or MISSING), Cell(base.parts["backbone"] or MISSING),
                 Cell(base.settings or MISSING), Cell(_estimate(base.estimate)),
                 Cell(_estimate(view.oracle.estimate if view.oracle else None)),
                 Cell(_estimate(view.source_test.estimate if view.source_test else None)),
                 Cell(MISSING if view.gap is None else f"{view.gap:+.3f}"),
                 Cell(MISSING if view.spread is None else f"{view.spread:.3f}")]
        for variant in view.variants or [None]:
            if variant is None:
                rest = [Cell(MISSING), Cell(MISSING), Cell(MISSING), Cell(fmt_share(view, None))]
            else:
                parts = " + ".join(variant.entry.parts[k] for k in ("adversary", "generator")
                                   if variant.entry.parts.get(k))
                if variant.entry.settings != base.settings:  # what tells two DANN rows apart (lambda_max)
                    parts += f" [{_own_settings(variant.entry.settings, base.settings)}]"
                seeds = ", ".join(f"{s}: {d:+.3f}" for s, d in variant.per_seed.items()) or MISSING
                rest = [Cell(parts), Cell(MISSING if variant.delta is None else f"{variant.delta:+.3f}"),
                        Cell(seeds), Cell(fmt_share(view, variant))]
            rows.append(first + rest)
    return header, rows


def _own_settings(settings: str, shared: str) -> str:
    """The ``k=v`` items of a row's settings label that its baseline's label lacks."""
    common = set(shared.split(", ")) if shared else set()
    return ", ".join(item for item in settings.split(", ") if item and item not in common)


HEADROOM_TITLE = "Headroom: the share of the gap to the oracle each row closed"


def headroom_note(section: Section) -> str:
    return ("Baseline: the learner trained on the source domain with no adversary and no generator. Oracle: the "
            "same meta-trained on labelled target data (train_domain=target), the ceiling no unsupervised alignment "
            "can beat. Source test: the same learner tested on the source-domain samples of "
            "the very same test episodes (test_domain=source). Share of gap closed = (row − baseline) / (oracle − "
            "baseline); \"no headroom\" where the gap is within the seeds' spread (the larger standard deviation "
            "of the baseline's and the oracle's per-seed means; with one seed, the larger 95% CI). Per-seed Δ: row "
            "− baseline on each seed's own episodes.")


def _headroom_records(section: Section) -> list[dict]:
    out = []
    for view in section.headroom:
        def mean(e):
            return e.estimate.mean if e is not None and e.estimate is not None else None

        out.append({"learner": view.baseline.parts["learner"], "backbone": view.baseline.parts["backbone"],
                    "settings": view.baseline.settings, "baseline": mean(view.baseline),
                    "oracle": mean(view.oracle), "source_test": mean(view.source_test), "gap": view.gap,
                    "spread": view.spread, "no_headroom": view.no_headroom,
                    "rows": [{"adversary": v.entry.parts["adversary"], "generator": v.entry.parts["generator"],
                              "settings": _own_settings(v.entry.settings, view.baseline.settings),
                              "delta": v.delta, "per_seed_delta": {str(k): d for k, d in v.per_seed.items()},
                              "share_of_gap_closed": v.share} for v in view.variants]})
    return out


def curve_table(section: Section) -> tuple[list[str], list[list[Cell]]]:
    """The validation curves of one section as a table: the ranking table's rows and their naming columns (so
    the two tables line up), one column per iteration any row has, the mean over the row's finished seeds
    (best per column bold), and "best at", the iteration of the row's best mean."""
    header, ranked = section_table(section)
    named = header.index(next(h for h in header if "mean ± 95% CI" in h))
    curves = section.curves
    iterations = sorted({i for curve in curves for i in curve.iterations})
    columns = [{i: m for i, m in zip(curve.iterations, curve.means)} for curve in curves]
    method = [role(e) is None for e in section.entries]  # references (oracle, source test) are never bold
    best = {i: _best([c.get(i) for c, m in zip(columns, method) if m], section.higher_is_better) for i in iterations}
    rows = []
    for row, curve, column, is_method in zip(ranked, curves, columns, method):
        cells = [Cell(c.text) for c in row[:named]]
        cells += [Cell(MISSING) if i not in column else Cell(f"{column[i]:.3f}", is_method and column[i] == best[i])
                  for i in iterations]
        rows.append(cells + [Cell(MISSING if curve.best_at is None else str(curve.best_at))])
    return header[:named] + [str(i) for i in iterations] + ["best at"], rows


def curve_title(section: Section) -> str:
    return f"Validation {section.metric or 'metric'} by outer update"


def curve_note(section: Section) -> str:
    """The sentence under a curve table's title: what its numbers are."""
    direction = {True: "higher is better", False: "lower is better"}.get(section.higher_is_better, "")
    metric = section.metric or "metric"
    if not any(curve.iterations for curve in section.curves):
        return (f"No row has a validation {metric} logged by all its finished seeds (train.val_every=0 turns "
                f"validation off).")
    return (f"Validation {metric} ({direction}) on the benchmark's validation episodes after each outer update "
            f"where it was measured (train.val_every), mean over the row's finished seeds. Best at: the outer update "
            f"of the row's best mean (the earliest on a tie). Bold: best in its column.")


def curve_dropped(section: Section) -> str | None:
    """The line under a curve table when some rows' seeds validated at different iterations (None when not)."""
    rows = [f"{e.label} ({', '.join(map(str, curve.dropped))})"
            for e, curve in zip(section.entries, section.curves) if curve.dropped]
    if not rows:
        return None
    return ("Left out, as not every finished seed of the row validated there (each row shows only the iterations "
            "all its seeds share): " + "; ".join(rows) + ".")


def _curve_record(entry: Entry, curve: Curve) -> dict:
    return {"learner": entry.parts["learner"], "backbone": entry.parts["backbone"],
            "adversary": entry.parts["adversary"], "generator": entry.parts["generator"], "settings": entry.settings,
            "iterations": curve.iterations, "means": [m if math.isfinite(m) else None for m in curve.means],
            "best_at": curve.best_at, "dropped_iterations": curve.dropped}


def failures(section: Section) -> list[tuple[Entry, str]]:
    return [(e, err) for e in section.entries for err in e.errors]


def footer_lines(board: Board) -> list[str]:
    versions = board.footer.get("versions", {})
    plain = [f"{name} {', '.join(vals)}" for name, vals in versions.items() if ":" not in name]
    parts = sorted({v for name, vals in versions.items() if ":" in name for v in vals})
    lines = []
    if plain or parts:
        lines.append("Runs made with " + "; ".join(plain) + (f"; parts from {', '.join(parts)}" if parts else "") + ".")
    commit = board.footer.get("commit")
    lines.append(f"Report generated {board.footer.get('generated')}"
                 + (f" from metareg commit {commit}" if commit else "")
                 + (f", store {board.footer['store']}" if board.footer.get("store") else "") + ".")
    return lines


# ---------------------------------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------------------------------
def _markdown_table(header: list[str], rows: list[list[Cell]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join(f"**{c.text}**" if c.bold else c.text.replace("|", "\\|") for c in row) + " |")
    return out


def to_markdown(board: Board, *, curves: bool = False) -> str:
    out = [f"# {board.title}", ""]
    if board.description:
        out += [board.description, ""]
    if not board.sections:
        out += ["No finished runs yet: `metareg bench` makes some.", ""]
    for section in board.sections:
        header, rows = section_table(section)
        out += [f"## {section.title}", "", section_note(section), ""]
        out += _markdown_table(header, rows)
        out.append("")
        for entry, error in failures(section):
            out.append(f"- failed: {entry.label}: {error}")
        if failures(section):
            out.append("")
        if section.has_paper:
            out += [f"### {PAPER_TITLE}", "", paper_note(section), ""]
            out += [f"- {line}" for line in paper_sources(section)] + [""]
        if section.headroom:
            out += [f"### {HEADROOM_TITLE}", "", headroom_note(section), ""]
            out += _markdown_table(*headroom_table(section)) + [""]
        if curves:
            out += [f"### {curve_title(section)}", "", curve_note(section), ""]
            if any(curve.iterations for curve in section.curves):
                out += _markdown_table(*curve_table(section)) + [""]
            dropped = curve_dropped(section)
            if dropped:
                out += [dropped, ""]
    out += ["---", ""] + footer_lines(board)
    return "\n".join(out) + "\n"


STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.note, footer { color: #555; font-size: 0.9em; }
table.board { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
table.board th, table.board td { border: 1px solid #ccc; padding: 0.35em 0.7em; text-align: left; }
table.board th { background: #f0f3f6; } table.board tr:nth-child(even) td { background: #fafbfc; }
table.board td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; } figure img { max-width: 100%; }
ul.failures { color: #a33; }
"""


def _html_table(header: list[str], rows: list[list[Cell]], first_number: int) -> list[str]:
    esc = html.escape
    out = ['<table class="board"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            text = f"<strong>{esc(c.text)}</strong>" if c.bold else esc(c.text)
            cells.append(f'<td class="num">{text}</td>' if i >= first_number or i == 0 else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return out


def to_html(board: Board, *, curves: bool = False) -> str:
    from metareg.board.plots import bar_chart, learning_curves

    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{esc(board.title)}</title><style>{STYLE}</style></head><body>", f"<h1>{esc(board.title)}</h1>"]
    if board.description:
        out.append(f'<p class="note">{esc(board.description)}</p>')
    if not board.sections:
        out.append("<p>No finished runs yet: <code>metareg bench</code> makes some.</p>")
    for section in board.sections:
        header, rows = section_table(section)
        out += [f"<h2>{esc(section.title)}</h2>", f'<p class="note">{esc(section_note(section))}</p>']
        first_number = header.index(next(h for h in header if "mean ± 95% CI" in h))
        out += _html_table(header, rows, first_number)
        if failures(section):
            out.append('<ul class="failures">' + "".join(f"<li>failed: {esc(e.label)}: {esc(err)}</li>"
                                                         for e, err in failures(section)) + "</ul>")
        if section.has_paper:
            out += [f"<h3>{esc(PAPER_TITLE)}</h3>", f'<p class="note">{esc(paper_note(section))}</p>',
                    "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in paper_sources(section)) + "</ul>"]
        if section.headroom:
            out += [f"<h3>{esc(HEADROOM_TITLE)}</h3>", f'<p class="note">{esc(headroom_note(section))}</p>']
            out += _html_table(*headroom_table(section), 3)
        if curves:
            out += [f"<h3>{esc(curve_title(section))}</h3>", f'<p class="note">{esc(curve_note(section))}</p>']
            if any(curve.iterations for curve in section.curves):
                out += _html_table(*curve_table(section), first_number)
            dropped = curve_dropped(section)
            if dropped:
                out.append(f'<p class="note">{esc(dropped)}</p>')
        captions = {"bar chart": "mean ± 95% CI per row; grey: baselines (no adversary, no generator)",
                    "learning curves": "mean over seeds of the logged meta-training loss and validation metric"}
        for kind, png in (("bar chart", bar_chart(section)), ("learning curves", learning_curves(section))):
            if png is not None:
                data = base64.b64encode(png).decode("ascii")
                out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(section.title)}: {kind}">'
                           f"<figcaption>{esc(captions[kind])}</figcaption></figure>")
    out += _study_html(board)
    out.append("<footer><hr>" + "".join(f"<p>{esc(line)}</p>" for line in footer_lines(board)) + "</footer>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def study_note(study) -> str:
    """One line under a study's plot: its size, rule and the selected trial's values (validation only)."""
    chosen = next((t for t in study.trials if t.number == study.selected), None)
    picked = ("; selected: trial " + str(chosen.number) + " ("
              + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in chosen.params.items())
              + f"), validation {study.metric} {chosen.value:.4g}") if chosen is not None and chosen.value is not None \
        else "; no configuration selected yet"
    failed = sum(t.value is None for t in study.trials)
    return (f"study {study.key}: {len(study.trials)} trials selected on {study.select}"
            + (f", {failed} failed or not run" if failed else "") + picked
            + ". Test metrics are never read by the search; `metareg tune --show` lists every trial.")


def _study_html(board: Board) -> list[str]:
    from metareg.board.plots import study_plot

    esc = html.escape
    if not board.studies:
        return []
    out = ["<h2>Tuning studies</h2>"]
    for study in board.studies:
        out += [f"<h3>{esc(study.label)}</h3>", f'<p class="note">{esc(study_note(study))}</p>']
        png = study_plot(study)
        if png is not None:
            data = base64.b64encode(png).decode("ascii")
            out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(study.label)}: validation by '
                       f'trial"><figcaption>validation {esc(study.metric or "")} of each trial in the order tried; '
                       f"line: best so far; ringed: the selected trial</figcaption></figure>")
    return out


def records(board: Board) -> list[dict]:
    """One dict of raw values per row of the board, in board order (what CSV and JSON carry); every row has
    ``probe_domain_accuracy`` when any row of the board has a probe, and the ``paper_*`` keys when any row has a
    published value, so CSV's columns are the same for all."""
    with_probe = any(section.has_probe for section in board.sections)
    with_paper = any(section.has_paper for section in board.sections)
    with_study = any(e.study_role for section in board.sections for e in section.entries)
    out = []
    for section in board.sections:
        for e in section.entries:
            est, base = e.estimate, (e.baseline.estimate if e.baseline else None)
            out.append({
                "benchmark": section.benchmark, "benchmark_settings": section.settings, "rank": e.rank,
                "learner": e.parts["learner"], "backbone": e.parts["backbone"], "adversary": e.parts["adversary"],
                "generator": e.parts["generator"], "settings": e.settings, "metric": section.metric,
                "higher_is_better": section.higher_is_better,
                "mean": est.mean if est else None, "ci95": est.ci95 if est else None, "n": est.n if est else 0,
                "seeds": sorted(e.seeds), "runs": e.runs, "planned": e.planned, "failed": e.failed,
                "baseline_mean": None if e.is_baseline or base is None else base.mean,
                "baseline_ci95": None if e.is_baseline or base is None else base.ci95,
                "delta": e.delta, "wall_time": e.wall_time, "domain_accuracy": e.domain_accuracy, "errors": e.errors,
            })
            if with_probe:  # only then, so a board without probes reads byte for byte as before they existed
                out[-1]["probe_domain_accuracy"] = e.probe_accuracy
            if with_study:  # the same: a store without studies reports as before
                out[-1]["study_role"] = e.study_role
            if with_paper:  # the same: a suite without a paper: block reports as before
                p = e.paper
                out[-1].update({"paper_name": p.name if p else None, "paper_value": p.value if p else None,
                                "paper_ci95": p.ci95 if p else None, "paper_std": p.std if p else None,
                                "delta_vs_paper": e.paper_delta, "overlaps_paper": e.paper_overlap,
                                "paper_source": p.source if p else None})
    return out


def to_csv(board: Board, *, curves: bool = False) -> str:
    """The rows as CSV; ``curves`` changes nothing (a flat table of rows has no place for them: use JSON)."""
    rows = records(board)
    buffer = io.StringIO()
    fields = list(rows[0]) if rows else ["benchmark", "learner", "metric", "mean", "ci95", "n"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in row.items()})
    return buffer.getvalue()


def to_json(board: Board, *, curves: bool = False) -> str:
    """The board as JSON; with ``curves`` each section also has ``curves``, one object per row in row order."""
    sections = []
    rows = iter(records(board))
    for section in board.sections:
        sections.append({"benchmark": section.benchmark, "settings": section.settings, "metric": section.metric,
                         "higher_is_better": section.higher_is_better,
                         "rows": [next(rows) for _ in section.entries]})
        if section.headroom:  # only then, so a board without oracle or source-test rows reads as before
            sections[-1]["headroom"] = _headroom_records(section)
        if curves:
            sections[-1]["curves"] = [_curve_record(e, c) for e, c in zip(section.entries, section.curves)]
    return json.dumps({"title": board.title, "description": board.description, "sections": sections,
                       "footer": board.footer}, indent=2) + "\n"


#: format name -> (renderer, file extension); each renderer takes the board and the keyword ``curves``
FORMATS: dict[str, tuple[Callable[..., str], str]] = {
    "md": (to_markdown, "md"), "html": (to_html, "html"), "csv": (to_csv, "csv"), "json": (to_json, "json"),
}


def render(board: Board, fmt: str, *, curves: bool = False) -> str:
    return FORMATS[fmt][0](board, curves=curves)
