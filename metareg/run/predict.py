"""A stored run put to use: rebuilt from its row, adapted to a user's few labelled images, labelling new ones.

Why: the person the field works for has a handful of labelled photos of new products and many unlabelled ones; a
run's meta-trained weights are what can label them. ``load_run`` rebuilds every part from the run's stored config
(the versions installed now build it; the run's own are in ``versions``), loads the weights the run was tested
with (``metareg.run.models``), and ``predict`` adapts to the support set exactly as at meta-test: the learner's
``predict`` on an episode whose support set is the user's images, enlarged by the run's generator (if any) as a
test episode is. The query images are taken in groups of the run's own query count (``n_way * n_query``), because
transductive batch norm (MAML's and ProtoNet's reference) normalises a query with the statistics of its episode;
a group of another size would see other statistics than meta-test did.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from metareg.errors import ConfigError, IncompatibleError, MetaregError


class RunNotFoundError(MetaregError):
    """No run with that id, or none usable for prediction (not finished, no weights)."""


@dataclass
class Labelled:
    """The user's images as tensors, prepared as the run's benchmark prepares its inputs."""

    classes: list[str]
    support_x: torch.Tensor  # [S, *input]
    support_y: torch.Tensor  # [S], indices into classes
    query_files: list[Path]
    query_x: torch.Tensor  # [Q, *input]
    #: files in the query folder's subfolders, which are not labelled (``metareg predict`` warns of them)
    unlabelled: list[Path] = field(default_factory=list)

    def unlabelled_note(self, query_dir: str | Path) -> str | None:
        """The warning that ``unlabelled`` files were left out, naming how many and where; None when none were."""
        if not self.unlabelled:
            return None
        folders = sorted({str(p.parent) for p in self.unlabelled})
        return (f"--query {str(query_dir)!r}: {len(self.unlabelled)} file(s) in {len(folders)} subfolder(s) (e.g. "
                f"{folders[0]!r}) are not labelled, only the files directly in the folder are; move them up, or "
                f"run predict on each subfolder")


class LoadedRun:
    """A stored classification run, rebuilt and holding its meta-trained weights; ``predict`` labels queries."""

    def __init__(self, run, row, store_dir: Path):
        self.run, self.row, self.store_dir = run, row, store_dir
        self.spec = run.spec
        self.n_way = self.spec.n_way or self.spec.n_outputs

    @property
    def run_id(self) -> int:
        return self.row.id

    def load_folders(self, support_dir: str | Path, query_dir: str | Path) -> Labelled:
        """Support: one subfolder of images per class (the class names are the folder names, sorted); query: the
        images to label. Prepared by the benchmark's ``load_inputs``."""
        support_dir, query_dir = Path(support_dir), Path(query_dir)
        for what, folder in (("--support", support_dir), ("--query", query_dir)):
            if not folder.is_dir():
                raise ConfigError(f"{what} {str(folder)!r} is not a folder")
        classes = sorted(p.name for p in support_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        files, labels = [], []
        for label, name in enumerate(classes):
            found = _files(support_dir / name)
            if not found:
                raise ConfigError(f"--support: class folder {str(support_dir / name)!r} holds no image")
            files += found
            labels += [label] * len(found)
        self.check_classes(len(classes), f"--support {str(support_dir)!r}")
        queries = _files(query_dir)
        nested = _nested_files(query_dir)
        if not queries:
            inside = (f" (its {len(nested)} file(s) are in subfolders, e.g. {str(nested[0].parent)!r}: give one of "
                      f"those as --query)" if nested else "")
            raise ConfigError(f"--query {str(query_dir)!r} holds no image to label{inside}")
        bench = self.run.benchmark
        return Labelled(classes, bench.load_inputs(files), torch.tensor(labels), queries, bench.load_inputs(queries),
                        nested)

    def check_classes(self, n_classes: int, where: object = "the support set") -> None:
        if n_classes == 0:  # no run is meta-trained for 0-way tasks: the fix is the folder, not n_way
            raise ConfigError(
                f"{where} holds no class folder: give one subfolder of images per class, {self.n_way} for run "
                f"{self.run_id} (meta-trained for {self.n_way}-way tasks); the folder names are the class names")
        if n_classes != self.n_way:
            raise ConfigError(
                f"{where} has {n_classes} classes; run {self.run_id} was meta-trained for {self.n_way}-way tasks "
                f"(its n_way), and its learner labels exactly that many: give {self.n_way} class folders, or use a "
                f"run meta-trained with benchmark.{self.row.benchmark}.n_way={n_classes}")

    def predict(self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[Q, n_way]`` of ``query_x [Q, *input]`` after adapting to ``support_x [S, *input]``
        with labels ``support_y [S]`` in ``0..n_way-1``, as at meta-test."""
        from metareg.host.contracts.generator import call_accepted
        from metareg.toolkit.tasks import TaskBatch

        if support_y.numel() and int(support_y.max()) >= self.n_way:
            self.check_classes(int(support_y.max()) + 1)
        if tuple(support_x.shape[1:]) != tuple(self.spec.input_shape):
            raise ConfigError(f"support inputs of shape {tuple(support_x.shape[1:])}; run {self.run_id} takes "
                              f"{tuple(self.spec.input_shape)} (prepare images with load_folders or "
                              f"run.benchmark.load_inputs)")
        device = self.run.device
        group = self.n_way * self.spec.n_query
        learner = self.run.learner.eval()
        out = []
        for start in range(0, len(query_x), group):
            q = query_x[start:start + group]
            batch = TaskBatch(support_x.unsqueeze(0), support_y.unsqueeze(0).long(), q.unsqueeze(0),
                              torch.zeros(1, len(q), dtype=torch.long)).to(device)
            if self.run.generator is not None:
                batch = call_accepted(self.run.generator.augment, batch, split="test")
            with torch.no_grad():
                logits = learner.predict(batch)[0]
            out.append(torch.softmax(logits.float(), dim=-1).cpu())
        return torch.cat(out)


def load_run(run_id: int, store: str | Path | None = None, device: str = "cpu", registry=None) -> LoadedRun:
    """The stored run ``run_id`` of the results store ``store`` (``--store`` rules), rebuilt with its weights."""
    from metareg.run.config import _flatten, resolve
    from metareg.host.contracts.generator import call_accepted
    from metareg.run.engine import Run
    from metareg.host.registry import Registry
    from metareg.run.files import stored_model
    from metareg.run.models import read_model
    from metareg.store.database import existing_store

    db = existing_store(store)
    path = db.path
    try:
        row = db.get(int(run_id))
    except KeyError:
        ids = [str(r.id) for r in db.runs()]
        close = difflib.get_close_matches(str(run_id), ids, n=3, cutoff=0.3)
        hint = f"closest: {', '.join(close)}; " if close else ""
        raise RunNotFoundError(f"no run {run_id} in {path} ({hint}{len(ids)} runs; `metareg runs` lists them)") \
            from None
    if row.status != "done":
        raise RunNotFoundError(f"run {row.id} is {row.status}, not done: only a finished run has weights to use")
    weights = stored_model(db, row.id)
    if not weights.is_file():
        raise RunNotFoundError(f"run {row.id} has no stored weights ({weights} is missing: the run finished before "
                               f"metareg kept models, or they were pruned); run it again with `metareg bench "
                               f"--rerun` and the same selectors")
    registry = registry or Registry.load(warn=False)
    settings = [(k, v) for k, v in _flatten(row.config) if k != "run.device"] + [("run.device", device)]
    cfg, selection = resolve(registry, settings)
    if selection.benchmark.cls.task_kind != "classification":
        raise IncompatibleError(f"run {row.id} is a {selection.benchmark.cls.task_kind} run "
                                f"({row.learner} on {row.benchmark}); predict labels images: use a classification run")
    run = Run(cfg, selection, registry)
    try:
        state = read_model(weights, run.device, row.config_hash)
    except ValueError as exc:
        raise RunNotFoundError(f"run {row.id}: {exc}; run it again with `metareg bench --rerun`") from None
    run.learner.load_state_dict(state["learner"])
    if run.adversary is not None and "adversary" in state:
        run.adversary.load_state_dict(state["adversary"])
    if run.generator is not None:  # its own checkpoint beside the store (MT-GAN), else it is fitted again
        call_accepted(run.generator.fit, run.benchmark, run.device, False, checkpoint_dir=db.files_dir, seed=run.seed)
    return LoadedRun(run, row, db.files_dir)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _nested_files(folder: Path) -> list[Path]:
    """The files in ``folder``'s subfolders (hidden ones left out, as ``_files`` leaves them): what a query folder
    holds that predict does not label, so that it can say so."""
    return sorted(p for p in folder.rglob("*") if p.parent != folder and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def write_predictions(rows: Sequence[tuple[Path, torch.Tensor]], classes: list[str], out, as_json: bool) -> None:
    """One line per query: CSV (file, predicted, p_<class>...) or JSON lines."""
    import csv
    import json

    if as_json:
        for file, p in rows:
            out.write(json.dumps({"file": str(file), "predicted": classes[int(p.argmax())],
                                  "probabilities": {c: round(float(v), 6) for c, v in zip(classes, p)}}) + "\n")
        return
    writer = csv.writer(out)
    writer.writerow(["file", "predicted", *[f"p_{c}" for c in classes]])
    for file, p in rows:
        writer.writerow([str(file), classes[int(p.argmax())], *[f"{float(v):.6f}" for v in p]])
