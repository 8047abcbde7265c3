"""The generator contract grows by keyword arguments: the engine passes the results folder, seed and split to a
generator that accepts them, and a generator written against the first contract keeps working."""
from __future__ import annotations

import pytest

import metareg
from metareg.host.contracts.generator import call_accepted
from metareg.host.registry import Registry
from metareg.run.config import resolve
from metareg.run.engine import Run
from metareg.store.database import Store

from helpers.slots import TINY_SLOTS as TINY, ShiftedBlobs


class Recorder(metareg.Generator):
    """Accepts every keyword of the grown contract and records what the engine passed."""

    name = "recorder"
    fits: list = []
    splits: list = []

    def fit(self, benchmark, device, progress=True, *, checkpoint_dir=None, seed=0):
        Recorder.fits.append({"checkpoint_dir": checkpoint_dir, "seed": seed})

    def augment(self, batch, *, split="train"):
        Recorder.splits.append(split)
        return batch


class OldStyle(metareg.Generator):
    """The first contract's signatures: no keyword arguments at all."""

    name = "old-style"
    calls: list = []

    def fit(self, benchmark, device, progress=True):
        OldStyle.calls.append("fit")

    def augment(self, batch):
        OldStyle.calls.append("augment")
        return batch


class Parts:
    @metareg.hookimpl
    def metareg_register_benchmarks(self, register):
        register(ShiftedBlobs)

    @metareg.hookimpl
    def metareg_register_generators(self, register):
        register(Recorder)
        register(OldStyle)


@pytest.fixture
def parts_registry():
    registry = Registry.load(warn=False)
    assert registry.add_plugin(Parts(), "generator-slot-parts")
    return registry


def _run(registry, generator, settings=()):
    cfg, selection = resolve(registry, list(TINY) + list(settings),
                             {"learner": "protonet", "benchmark": "shifted-blobs", "generator": generator, "seed": 7})
    return Run(cfg, selection, registry)


def test_engine_passes_the_store_folder_and_seed_to_fit(parts_registry, tmp_path):
    Recorder.fits.clear()
    store = Store(tmp_path / "results")
    assert _run(parts_registry, "recorder").execute(progress=False, store=store).status == "done"
    assert Recorder.fits == [{"checkpoint_dir": store.path.parent, "seed": 7}]


def test_without_a_store_fit_gets_no_checkpoint_folder(parts_registry):
    Recorder.fits.clear()
    assert _run(parts_registry, "recorder").execute(progress=False).status == "done"
    assert Recorder.fits == [{"checkpoint_dir": None, "seed": 7}]


def test_augment_is_told_the_split_of_every_batch(parts_registry):
    Recorder.splits.clear()
    run = _run(parts_registry, "recorder", [("train.val_every", 2), ("train.val_tasks", 2)])
    assert run.execute(progress=False).status == "done"
    # 4 meta-training batches, validation at the last update (the engine validates where it logs), one test batch
    assert Recorder.splits == ["train"] * 4 + ["val", "test"]


def test_a_generator_of_the_first_contract_still_runs(parts_registry, tmp_path):
    OldStyle.calls.clear()
    result = _run(parts_registry, "old-style").execute(progress=False, store=Store(tmp_path))
    assert result.status == "done"
    assert OldStyle.calls[0] == "fit" and OldStyle.calls.count("augment") == 5


def test_call_accepted_drops_only_the_keywords_a_method_lacks():
    def narrow(a, b=1):
        return (a, b)

    def wide(a, **kwargs):
        return (a, kwargs)

    assert call_accepted(narrow, 0, b=2, split="test") == (0, 2)
    assert call_accepted(wide, 0, b=2, split="test") == (0, {"b": 2, "split": "test"})
    with pytest.raises(TypeError):
        call_accepted(narrow)  # a missing positional argument is still an error
