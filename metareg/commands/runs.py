"""``metareg runs``: the stored runs one per row, and ``metareg runs show RUN_ID``: everything stored about one.

The listing has a run's id, parts, seed, status, test metric (the task metric, never a diagnostic stored beside it,
as mean ± 95% CI), wall time, and whether its model file and its mid-run checkpoint file exist (paths from
``metareg.run.files``). The part selectors and ``--seeds`` filter it as they filter ``metareg leaderboard``
(``metareg.board.select``), ``--status`` by status; ``--json`` prints one object per run. A ``running`` row whose
runner is gone (``Store`` deletes it when its cell is claimed again) reads ``abandoned`` in the table. ``show``
prints the run's parts, status, error, device, wall time and its split (``metareg.run.phases``: train, validation,
test), metrics, versions, resolved config (YAML), history and files; ``show --json`` the same as one object. An unknown run id, or a store that does not exist, is a one-line
error (exit 2).
"""
from __future__ import annotations

import argparse
import difflib
import json
import time
from pathlib import Path

from metareg.errors import MetaregError

NAME = "runs"

STATUSES = ("done", "failed", "running")
#: a missing value in a table
MISSING = "—"
#: ``show`` prints at most this many history entries (evenly spread, the last always) unless ``--all-history``
HISTORY_ROWS = 20


class UnknownRunError(MetaregError, LookupError):
    """A run id the store does not hold; the message names the closest ids and the store."""


def add_parser(sub) -> argparse.ArgumentParser:
    runs = sub.add_parser(
        NAME,
        usage="%(prog)s [selectors] [--status STATUS] [--json] [--store PATH]\n"
              "       %(prog)s show RUN_ID [--all-history] [--json] [--store PATH]\n"
              "       %(prog)s prune --keep-models all|best|none [--store PATH]",
        help="list the stored runs (parts, seed, status, test metric, model and checkpoint files); "
             "`runs show RUN_ID` prints one",
        description="One row per stored run: id, parts, seed, status, test metric (mean ± 95% CI), wall time, and "
                    "whether its model file and mid-run checkpoint exist. Selectors filter the runs as in "
                    "`metareg leaderboard`. `metareg runs show RUN_ID` prints everything stored about one run.",
    )
    from metareg.commands.bench import add_selectors
    from metareg.board.prune import KEEP

    add_selectors(runs, filters=True)
    runs.add_argument("--status", choices=STATUSES, help="only runs with this status")
    runs.add_argument("--json", action="store_true", help="one JSON object per run, one per line")
    runs.add_argument("--store", metavar="PATH",
                      help="results store folder (default ./metareg-results, or $METAREG_STORE)")
    actions = runs.add_subparsers(dest="runs_action", title="actions", metavar="show RUN_ID | prune")
    show = actions.add_parser("show", prog=f"{runs.prog} show", help="everything stored about one run",
                              description="One run: its parts, seed, status, error, device, wall time, metrics, "
                                          "versions, resolved config (YAML), history, and its model and "
                                          "checkpoint files.")
    show.add_argument("run_id", metavar="RUN_ID", help="the run's id (the first column of `metareg runs`)")
    show.add_argument("--all-history", action="store_true",
                      help=f"every logged history entry (default: at most {HISTORY_ROWS}, evenly spread)")
    # given after `show` or before it alike: SUPPRESS keeps the subcommand from resetting what came before it
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="the run as one JSON object")
    show.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS,
                      help="results store folder (default ./metareg-results, or $METAREG_STORE)")
    prune = actions.add_parser("prune", prog=f"{runs.prog} prune", help="delete stored models, keeping results",
                               description="Delete stored model files (metareg.board.prune.prune_models); every "
                                           "result, config and history stays in the store.")
    prune.add_argument("--keep-models", required=True, choices=KEEP,
                       help="best: the best seed of each leaderboard row (combination) by its test metric")
    prune.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS,
                       help="results store folder (default ./metareg-results, or $METAREG_STORE)")
    return runs


def run(args: argparse.Namespace) -> int:
    from metareg.store.database import existing_store

    store = existing_store(args.store)
    if getattr(args, "runs_action", None) == "show":
        return show(store, args)
    if getattr(args, "runs_action", None) == "prune":
        from metareg.board.prune import prune_models

        removed = prune_models(store, args.keep_models)
        print(f"metareg runs prune: deleted {len(removed)} model file(s) from {store.files_dir / 'models'}; "
              f"every result stays in {store.path}")
        return 0
    accepts = _selected(args)
    rows = [r for r in store.runs(status=args.status) if accepts is None or accepts(r)]
    if args.json:
        for row in rows:
            print(json.dumps(as_json(row, store)), flush=True)
        return 0
    if rows:
        print(format_table(rows, store))
    print(summary(rows, store, filtered=bool(args.status) or accepts is not None))
    return 0


def _selected(args: argparse.Namespace):
    """The part selectors and ``--seeds`` as ``metareg leaderboard`` reads them: a predicate on a row, or None."""
    from metareg.board.select import row_filter
    from metareg.commands.bench import selector_axes

    axes, seeds = selector_axes(args)
    return row_filter(axes, seeds, ()) if axes or seeds is not None else None


def find_run(store, text: str | int):
    """The row with id ``text``, or an ``UnknownRunError`` naming the closest ids in the store and its path (a
    ``ConfigError`` for a number no run can have: ``metareg.commands.common.run_id``)."""
    from metareg.commands.common import run_id as parse_run_id

    run_id = parse_run_id(text)
    if run_id is not None:
        try:
            return store.get(run_id)
        except KeyError:
            pass
    ids = [r.id for r in store.runs()]
    if not ids:
        raise UnknownRunError(f"no run {text} in {store.path}: the store holds no runs yet "
                              f"(`metareg bench` adds them)")
    if run_id is None:  # not a number: the ids that read most like it
        close = difflib.get_close_matches(str(text).strip(), [str(i) for i in ids], n=3, cutoff=0.5)
        if not close:
            raise UnknownRunError(f"no run {text!r} in {store.path}: a run id is a number, here from {min(ids)} "
                                  f"to {max(ids)} (`metareg runs` lists them all)")
    else:  # the nearest numbers
        close = [str(i) for i in sorted(sorted(ids, key=lambda i: (abs(i - run_id), i))[:3])]
    raise UnknownRunError(f"no run {text} in {store.path}: the closest ids are {', '.join(close)} "
                          f"(`metareg runs` lists them all)")


def files(row, store) -> dict[str, Path]:
    """The run's model and checkpoint paths, as ``metareg.run.files`` decides them."""
    from metareg.run.files import checkpoint_path, stored_model

    return {"model": stored_model(store, row.id), "checkpoint": checkpoint_path(store.files_dir, row.config_hash)}


def shown_status(row) -> str:
    """The status, except that a ``running`` row whose runner is gone reads ``abandoned``."""
    return "abandoned" if _abandoned(row) else row.status


def _abandoned(row) -> bool:
    from metareg.store.database import is_abandoned

    return row.status == "running" and is_abandoned(row.owner, row.heartbeat_at)


def metric_text(metrics: dict | None, digits: int = 3) -> str:
    """A run's task metric (the one the leaderboard ranks by, ``task_metric_name``): ``accuracy 0.912 ± 0.011``."""
    if not metrics:
        return MISSING
    from metareg.toolkit.metrics import task_metric_name

    name = task_metric_name(metrics)
    value = metrics[name]
    ci95 = value.get("ci95")
    return f"{name} {value['mean']:.{digits}f}" + (f" ± {ci95:.{digits}f}" if ci95 is not None else "")


def _wall(row) -> str:
    return MISSING if row.wall_time is None else f"{row.wall_time:.1f}"


def _yes(path: Path) -> str:
    return "yes" if path.is_file() else "no"


def aligned(header: list[str], rows: list[list[str]]) -> str:
    """A plain table: columns padded to their widest cell, two spaces apart, a dashed line under the header."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def format_table(rows, store) -> str:
    header = ["id", "learner", "benchmark", "backbone", "adversary", "generator", "seed", "status",
              "test metric (mean ± 95% CI)", "wall s", "model", "checkpoint"]
    body = []
    for r in rows:
        paths = files(r, store)
        body.append([str(r.id), r.learner, r.benchmark, r.backbone, r.adversary or MISSING, r.generator or MISSING,
                     str(r.seed), shown_status(r), metric_text(r.metrics), _wall(r), _yes(paths["model"]),
                     _yes(paths["checkpoint"])])
    return aligned(header, body)


def summary(rows, store, filtered: bool) -> str:
    if not rows:
        return f"no {'matching ' if filtered else ''}runs in {store.path}"
    counts: dict[str, int] = {}
    for r in rows:
        counts[shown_status(r)] = counts.get(shown_status(r), 0) + 1
    said = ", ".join(f"{n} {status}" for status, n in counts.items())
    plural = "s" if len(rows) != 1 else ""
    return (f"{len(rows)} {'matching ' if filtered else ''}run{plural} ({said}) in {store.path}; "
            f"`metareg runs show ID` prints one")


def as_json(row, store, full: bool = False) -> dict:
    """A run as the listing's JSON line (the keys of ``bench --json`` where they overlap); ``full`` adds its config,
    versions and history."""
    paths = files(row, store)
    line = {
        "run_id": row.id,
        "config_hash": row.config_hash,
        "parts": {"learner": row.learner, "benchmark": row.benchmark, "backbone": row.backbone,
                  "adversary": row.adversary, "generator": row.generator},
        "seed": row.seed,
        "status": row.status,
        "abandoned": _abandoned(row),
        "device": row.device,
        "wall_time": row.wall_time,
        "phases": row.phases,
        "metrics": row.metrics,
        "error": row.error,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "model_file": str(paths["model"]),
        "model_exists": paths["model"].is_file(),
        "checkpoint_file": str(paths["checkpoint"]),
        "checkpoint_exists": paths["checkpoint"].is_file(),
    }
    if full:
        line.update(config=row.config, versions=row.versions, history=row.history)
    return line


def show(store, args: argparse.Namespace) -> int:
    row = find_run(store, args.run_id)
    if getattr(args, "json", False):
        print(json.dumps(as_json(row, store, full=True)))
        return 0
    print(describe(row, store, all_history=args.all_history))
    return 0


def _when(stamp: float | None) -> str:
    return MISSING if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return MISSING if value is None else str(value)
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _fields(pairs: list[tuple[str, str]], indent: str = "") -> list[str]:
    width = max((len(k) for k, _ in pairs), default=0)
    return [f"{indent}{k.ljust(width)}  {v}".rstrip() for k, v in pairs]


def describe(row, store, all_history: bool = False) -> str:
    """Everything stored about one run, as text: the output of ``metareg runs show``."""
    from omegaconf import OmegaConf

    from metareg.run import phases

    status = shown_status(row) + (f" (runner {row.owner} is gone)" if _abandoned(row) else "")
    head = [("learner", row.learner), ("benchmark", row.benchmark), ("backbone", row.backbone),
            ("adversary", row.adversary or MISSING), ("generator", row.generator or MISSING),
            ("seed", str(row.seed)), ("status", status)]
    if row.error:
        head.append(("error", row.error))
    head += [("device", row.device or MISSING), ("wall time", MISSING if row.wall_time is None
                                                 else f"{row.wall_time:.1f} s")]
    split = phases.describe(row.phases, row.wall_time)
    head += [("time split", split)] if split else []
    head += [("started", _when(row.started_at)), ("finished", _when(row.finished_at)),
             ("config hash", row.config_hash)]
    out = [f"run {row.id} in {store.path}", *_fields(head, "  "), "", "metrics:"]
    if row.metrics:
        out += _fields([(name, _estimate(m)) for name, m in row.metrics.items()], "  ")
    else:
        out.append(f"  none ({'the run failed' if row.status == 'failed' else 'not finished'})")
    out += ["", "versions:"]
    out += _fields(sorted((k, str(v)) for k, v in (row.versions or {}).items()), "  ") or ["  none recorded"]
    out += ["", "files:"]
    out += _fields([(kind, f"{path} ({file_state(kind, path, row)})") for kind, path in files(row, store).items()],
                   "  ")
    out += ["", "config (resolved):"]
    out += ["  " + line for line in OmegaConf.to_yaml(OmegaConf.create(row.config or {})).rstrip().splitlines()]
    out += ["", *history_lines(row.history or [], all_history)]
    return "\n".join(out)


def file_state(kind: str, path: Path, row) -> str:
    """Whether a run's file exists, and for an absent one, why: a run that has its outcome removed its checkpoint
    by design (``metareg.run.record.commit``: a checkpoint only serves resuming), a failed run never has a model,
    a running one has neither until it writes them. Only a finished run's absent model reads ``missing``."""
    if path.is_file():
        return "exists"
    if kind == "checkpoint":
        if row.status in ("done", "failed"):
            return "none: removed by design once the run had its outcome (a checkpoint only serves resuming)"
        return "none written yet"
    if row.status == "failed":
        return "none: a failed run has no model"
    if row.status != "done":
        return "none yet: written when the run finishes"
    return "missing: `metareg runs prune` deletes models; `metareg bench --rerun` the run's cell makes it again"


def _estimate(m: dict) -> str:
    ci95 = m.get("ci95")
    text = f"{m['mean']:.4f}" + (f" ± {ci95:.4f}" if ci95 is not None else "")
    return text + (f" (n={m['n']})" if m.get("n") is not None else "")


def history_lines(history: list[dict], all_history: bool = False) -> list[str]:
    """The history as a table: the iteration, then each logged key in the order first logged."""
    if not history:
        return ["history: none logged"]
    keys = ["iteration"] + list(dict.fromkeys(k for entry in history for k in entry if k != "iteration"))
    picked = history
    if not all_history and len(history) > HISTORY_ROWS:
        last = len(history) - 1
        picked = [history[i] for i in sorted({round(j * last / (HISTORY_ROWS - 1)) for j in range(HISTORY_ROWS)})]
    title = f"history ({len(history)} logged entries" + (
        f", {len(picked)} shown; --all-history shows every one):" if len(picked) < len(history) else "):")
    table = aligned(keys, [[_number(entry.get(k)) for k in keys] for entry in picked])
    return [title] + ["  " + line for line in table.splitlines()]

