"""TensorBoard logging of every run's live metrics: an observer plugin, off unless ``METAREG_TENSORBOARD`` is set.

With ``METAREG_TENSORBOARD=DIR`` (which ``metareg bench --log tensorboard:DIR`` sets) each run writes one
TensorBoard event file under ``DIR/<learner>_<benchmark>_<run hash>/`` as it meta-trains, so
``tensorboard --logdir DIR`` shows the curves of every run of a grid, live. At every logged iteration
(``metareg_iteration_logged``: every 50 outer updates and the last) each numeric value of the history entry
becomes a scalar at step = the outer update, grouped by :func:`tag`:

- ``train/loss`` (``train_loss``), ``train/surrogate_loss`` and the learner's metrics (``train/accuracy``, ...);
- ``val/<metric>`` (``val_accuracy``, ``val_mse``) at validation points;
- ``adversary/<metric>`` (``adversary_loss``, ``adversary_domain_accuracy``, ...), ``generator/<metric>``.

The file is flushed at every call and closed when the run finishes (``metareg_run_finished``). A run of the same
config again (``--rerun``, ``--retry-failed``, a resumed run) writes a new file in the same folder that starts with
a purge marker at its first logged step, so TensorBoard shows the latest attempt instead of overlaying the old one.

The writer is ``torch.utils.tensorboard.SummaryWriter``, which needs the ``tensorboard`` package
(``pip install 'metareg[tensorboard]'``). It is imported only when the variable is set; if it cannot be, metareg
warns once with that fix and the runs go on without logging. Logging never changes a run or its identity, and a
logger that cannot write (a folder it may not create) warns and leaves the run alone.
"""
from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path

import metareg

#: the environment variable that turns the logger on; its value is the log folder
ENV = "METAREG_TENSORBOARD"
INSTALL_HINT = "pip install 'metareg[tensorboard]'"

#: entry-key prefix -> TensorBoard group
GROUPS = (("val_", "val"), ("adversary_", "adversary"), ("generator_", "generator"), ("train_", "train"))

_writers: dict[str, object] = {}  # run hash -> its open SummaryWriter
_disabled: set[str] = set()  # runs whose writer could not be made (warned once each)
_import_failed = False  # tensorboard is missing: warned once, never tried again in this process


def log_dir() -> Path | None:
    """The folder ``METAREG_TENSORBOARD`` names, or None when it is unset or empty (the logger is off)."""
    value = os.environ.get(ENV, "").strip()
    return Path(value).expanduser() if value else None


def run_folder(config, run_hash: str) -> str:
    """``<learner>_<benchmark>_<run hash>``: one folder per run, readable in TensorBoard's run list."""
    name = f"{config.run.learner}_{config.run.benchmark}_{run_hash}"
    return re.sub(r"[^\w.-]", "-", name)


def tag(key: str) -> str:
    """A history key's TensorBoard tag: ``val_accuracy`` -> ``val/accuracy``, ``adversary_domain_accuracy`` ->
    ``adversary/domain_accuracy``, ``train_loss`` -> ``train/loss``, any other key (``surrogate_loss``, the learner's
    metrics) -> ``train/<key>``."""
    for prefix, group in GROUPS:
        if key.startswith(prefix) and len(key) > len(prefix):
            return f"{group}/{key[len(prefix):]}"
    return f"train/{key}"


def scalars(entry: dict) -> dict[str, float]:
    """Every numeric value of a history entry but ``iteration``, by tag."""
    return {tag(k): float(v) for k, v in entry.items()
            if k != "iteration" and isinstance(v, (int, float)) and not isinstance(v, bool)}


def _summary_writer():
    """``SummaryWriter``, or None after warning once (per process) that tensorboard is not installed."""
    global _import_failed
    if _import_failed:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as exc:  # ImportError, or a tensorboard whose own imports fail
        _import_failed = True
        first = (str(exc).strip().splitlines() or [""])[0]
        warnings.warn(f"metareg: {ENV} is set but TensorBoard logging needs the tensorboard package "
                      f"({type(exc).__name__}: {first}); install it with `{INSTALL_HINT}`. Runs go on without it.",
                      RuntimeWarning, stacklevel=2)
        return None
    return SummaryWriter


def _writer(config, run_hash: str, first_step: int):
    if run_hash in _writers:
        return _writers[run_hash]
    if run_hash in _disabled:
        return None
    root = log_dir()
    if root is None:
        return None
    cls = _summary_writer()
    if cls is None:
        return None
    folder = root / run_folder(config, run_hash)
    try:
        # purge_step: TensorBoard drops what an earlier attempt of this run logged from this step on
        writer = cls(log_dir=str(folder), purge_step=first_step)
    except Exception as exc:  # e.g. a folder that cannot be created: never the run's problem
        _disabled.add(run_hash)
        warnings.warn(f"metareg: TensorBoard logging of run {run_hash} to {str(folder)!r} is off: "
                      f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
        return None
    _writers[run_hash] = writer
    return writer


@metareg.hookimpl
def metareg_iteration_logged(config, entry, run_hash):
    step = entry.get("iteration")
    if log_dir() is None and run_hash not in _writers:
        return
    if not isinstance(step, (int, float)) or isinstance(step, bool) or not math.isfinite(step):
        return
    writer = _writer(config, run_hash, int(step))
    if writer is None:
        return
    for name, value in scalars(entry).items():
        writer.add_scalar(name, value, global_step=int(step))
    writer.flush()  # `tensorboard --logdir` sees the curves while the run trains


@metareg.hookimpl
def metareg_run_finished(config, result):
    _disabled.discard(result.config_hash)
    writer = _writers.pop(result.config_hash, None)
    if writer is not None:
        writer.close()
