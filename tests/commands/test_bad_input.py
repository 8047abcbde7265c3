"""Bad input never meets a traceback: each row is what a user might type, the exit code and the line they get.

Why one table: the promise is about the command line as a whole (every command, every kind of mistake), so the
rows are read as a list of what a new user tries. Each runs in-process through ``run_cli`` (the store in a tmp
folder) and must exit with its code, say its fragment, print no traceback, and, for a mistake in the input, store
nothing: config errors are found before the store is opened or a part is built, so every row is fast.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helpers.runs import TINY
from metareg.store.database import Store

GARBAGE = bytes(range(256)) * 8


def garbage_store(tmp: Path) -> None:
    (tmp / "bad").mkdir()
    (tmp / "bad" / "results.sqlite").write_bytes(GARBAGE)


def foreign_database(tmp: Path) -> None:
    (tmp / "foreign").mkdir()
    with sqlite3.connect(tmp / "foreign" / "results.sqlite") as db:
        db.execute("CREATE TABLE photos (name TEXT)")


def newer_store(tmp: Path) -> None:
    Store(tmp / "newer")
    with sqlite3.connect(tmp / "newer" / "results.sqlite") as db:
        db.execute("PRAGMA user_version = 99")


def damaged_store(tmp: Path) -> None:
    """A real store whose pages after the SQLite header were overwritten: the header passes, the schema does not."""
    Store(tmp / "damaged")
    path = tmp / "damaged" / "results.sqlite"
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xab" * (len(data) - 100))


def malformed_yaml(tmp: Path) -> None:
    (tmp / "bad.yaml").write_text("train:\n  meta_iterations: [3\n")


def a_file(tmp: Path) -> None:
    (tmp / "afile").write_text("not a folder")


def fake_gpu_check(tmp: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present, so asking for one is not an error")


def nested_yaml(tmp: Path) -> None:
    (tmp / "nested.yaml").write_text("train:\n  meta_iterations:\n    a: 1\n")


def section_list_yaml(tmp: Path) -> None:
    (tmp / "list.yaml").write_text("train: [1, 2]\n")


def suite_scalar_section(tmp: Path) -> None:
    (tmp / "scalar.yaml").write_text("settings:\n  train: 5\ngrid:\n  learner: maml\n")


def suite_mapping_for_a_setting(tmp: Path) -> None:
    (tmp / "mapping.yaml").write_text("settings:\n  learner:\n    maml:\n      inner_lr: {x: 1}\n"
                                      "grid:\n  learner: maml\n")


def suite_empty_learner(tmp: Path) -> None:
    (tmp / "empty-learner.yaml").write_text("grid:\n  learner: []\n  benchmark: sinusoid\n")


def suite_empty_grid(tmp: Path) -> None:
    (tmp / "empty-grid.yaml").write_text("grid: []\n")


PROTONET_DIGITS = ("--learner", "protonet", "--benchmark", "digits")
#: id, arguments ({tmp} is the test's tmp folder), exit code, fragment of the message, setup(tmp) or None
ROWS = [
    # the loop's settings
    ("meta-iterations-negative", ("--learner", "maml", "train.meta_iterations=-5"), 2,
     "train.meta_iterations must be at least 1, got -5", None),
    ("meta-batch-size-zero", (*PROTONET_DIGITS, "train.meta_batch_size=0"), 2,
     "train.meta_batch_size must be at least 1, got 0", None),
    ("outer-lr-nan", ("--learner", "maml", "train.outer_lr=nan"), 2, "train.outer_lr must be above 0, got nan", None),
    ("outer-lr-inf", ("--learner", "maml", "train.outer_lr=inf"), 2, "train.outer_lr must be above 0, got inf", None),
    ("outer-lr-negative", ("--learner", "maml", "train.outer_lr=-0.1"), 2, "train.outer_lr must be above 0", None),
    ("val-every-negative", ("--learner", "maml", "train.val_every=-1"), 2, "train.val_every must be at least 0", None),
    ("test-tasks-zero", ("--learner", "maml", "train.test_tasks=0"), 2, "train.test_tasks must be at least 1", None),
    ("eval-batch-zero", ("--learner", "maml", "train.eval_batch_size=0"), 2, "train.eval_batch_size must be", None),
    ("grad-clip-unknown", ("--learner", "maml", "train.grad_clip=sometimes"), 2,
     "train.grad_clip must be one of none, value, norm, task_value", None),
    ("grad-clip-max-zero", ("--learner", "maml", "train.grad_clip=value", "train.grad_clip_max=0"), 2,
     "train.grad_clip_max must be above 0, got 0.0", None),
    ("checkpoint-off-the-log", ("--learner", "maml", "train.checkpoint_every=70"), 2,
     "train.checkpoint_every must be at least 0 and a multiple of 50, got 70", None),
    ("task-chunk-fraction", ("--learner", "maml", "train.task_chunk=2.5"), 2,
     "train.task_chunk must be auto or at least 1 and a whole number, got 2.5", None),
    ("grad-clip-max-nan", ("--learner", "maml", "train.grad_clip_max=nan"), 2,
     "train.grad_clip_max must be above 0, got nan", None),
    # seeds
    ("seed-too-large", ("--learner", "maml", "--seeds", "99999999999999999999"), 2,
     "a seed must be at least 0 and below 2**63", None),
    ("seed-negative", ("--learner", "maml", "--seeds=-1"), 2, "'-1' is out of range", None),
    ("seed-range-too-long", ("--learner", "maml", "--seeds", "0-99999999"), 2, "more than the 10000", None),
    ("seed-range-backwards", ("--learner", "maml", "--seeds", "5-2"), 2, "runs backwards", None),
    ("seed-arabic-indic-digit", ("--learner", "maml", "--seeds", "\u0663"), 2,
     "'\u0663' is not a seed; use integers in ASCII digits (0-9)", None),
    ("seed-range-arabic-indic", ("--learner", "maml", "--seeds", "0-\u0663"), 2, "in ASCII digits (0-9)", None),
    ("run-seed-arabic-indic-digit", ("--learner", "maml", "run.seed=\u0663"), 2,
     "config key 'run.seed': value '\u0663' is not a valid int; write the number in ASCII digits (0-9)", None),
    ("run-seed-negative", ("--learner", "maml", "run.seed=-3"), 2, "run.seed must be at least 0 and below 2**63", None),
    # the parts' declared ranges
    ("maml-inner-steps", ("--learner", "maml", "learner.maml.inner_steps=-1"), 2,
     "learner.maml.inner_steps must be at least 0, got -1", None),
    ("maml-inner-lr", ("--learner", "maml", "learner.maml.inner_lr=0"), 2, "learner.maml.inner_lr must be above 0",
     None),
    ("reptile-inner-steps", ("--learner", "reptile", "learner.reptile.inner_steps=0"), 2,
     "with no inner step the Reptile update is zero", None),
    ("cavia-context-dim", ("--learner", "cavia", "learner.cavia.context_dim=0"), 2,
     "learner.cavia.context_dim must be at least 1, got 0", None),
    ("versa-samples", ("--learner", "versa", "--benchmark", "digits", "learner.versa.samples=0"), 2,
     "learner.versa.samples must be at least 1", None),
    ("finetune-steps", ("--learner", "finetune", "learner.finetune.test_inner_steps=-1"), 2,
     "learner.finetune.test_inner_steps must be at least 0", None),
    ("digits-k-shot", (*PROTONET_DIGITS, "benchmark.digits.k_shot=0"), 2, "benchmark.digits.k_shot must be at least 1",
     None),
    ("digits-shift-pool-fraction", ("--learner", "protonet", "--benchmark", "digits-shift",
                                    "benchmark.digits-shift.pool_fraction=1"), 2,
     "benchmark.digits-shift.pool_fraction must be above 0 and below 1, got 1", None),
    ("sinusoid-x-min-nan", ("--learner", "maml", "benchmark.sinusoid.x_min=nan"), 2,
     "benchmark.sinusoid.x_min must be a finite number, got nan", None),
    ("glyphs-jitter", ("--learner", "protonet", "--benchmark", "glyphs", "benchmark.glyphs.jitter_shift=0.5"), 2,
     "benchmark.glyphs.jitter_shift must be at least 0 and below 0.5", None),
    ("folder-image-size", ("--learner", "protonet", "--benchmark", "folder", "benchmark.folder.image_size=4"), 2,
     "benchmark.folder.image_size must be 0 or at least 8, got 4", None),
    ("dann-lambda", ("--learner", "protonet", "--adversary", "dann", "adversary.dann.lambda_max=-1"), 2,
     "adversary.dann.lambda_max must be at least 0", None),
    ("dann-dropout", ("--learner", "protonet", "--adversary", "dann", "adversary.dann.dropout=1"), 2,
     "adversary.dann.dropout must be at least 0 and below 1", None),
    ("dann-hidden", ("--learner", "protonet", "--adversary", "dann", "adversary.dann.hidden=[64,0]"), 2,
     "adversary.dann.hidden[1] must be at least 1, got 0", None),
    ("mtgan-n-aug", ("--learner", "protonet", "--generator", "mtgan", "generator.mtgan.n_aug=-1"), 2,
     "generator.mtgan.n_aug must be at least 0", None),
    ("mtgan-rate", ("--learner", "protonet", "--generator", "mtgan", "generator.mtgan.finetune_lr=0"), 2,
     "generator.mtgan.finetune_lr must be above 0", None),
    ("conv4-channels", (*PROTONET_DIGITS, "backbone.conv4.channels=0"), 2,
     "backbone.conv4.channels must be at least 1, got 0", None),
    ("conv4-film-block", (*PROTONET_DIGITS, "backbone.conv4.film_block=5"), 2,
     "backbone.conv4.film_block must be from 1 to 4, got 5", None),
    ("mlp-hidden-element", ("--learner", "maml", "backbone.mlp.hidden=[40,0]"), 2,
     "backbone.mlp.hidden[1] must be at least 1, got 0", None),
    # the parts' declared choices (a vectorize strategy was only read mid-training: a "failed" run was stored)
    ("maml-vectorize", ("--learner", "maml", "learner.maml.vectorize=fast"), 2,
     "learner.maml.vectorize must be one of auto, vmap, loop, grouped, got 'fast'", None),
    ("conv4-init", (*PROTONET_DIGITS, "backbone.conv4.init=xavier"), 2,
     "backbone.conv4.init must be one of torch, kaiming, got 'xavier'", None),
    ("dann-schedule", ("--learner", "protonet", "--adversary", "dann", "adversary.dann.schedule=linear"), 2,
     "adversary.dann.schedule must be one of dann, constant", None),
    ("digits-shift-transform", ("--learner", "protonet", "--benchmark", "digits-shift",
                                "benchmark.digits-shift.shift=[rotate,warp]"), 2,
     "benchmark.digits-shift.shift[1] must be one of rotate, invert, noise, blur, scale, got 'warp'", None),
    # a mapping or a list where one value is expected, and one value where a section is (no "internal error")
    ("section-given-a-value", ("--learner", "maml", "train=5"), 2,
     "config key 'train' is a section, not a setting, so it cannot be 5: set one of its keys, e.g. "
     "train.meta_iterations=VALUE", None),
    ("run-section-given-a-value", ("--learner", "maml", "run=3"), 2, "config key 'run' is a section", None),
    ("setting-given-keys", ("--learner", "maml", "learner.maml.inner_lr.x=1"), 2,
     "config key 'learner.maml.inner_lr.x': 'learner.maml.inner_lr' is a setting that takes one float value, not a "
     "section with keys; write learner.maml.inner_lr=VALUE", None),
    ("list-setting-given-keys", ("--learner", "maml", "backbone.mlp.hidden.x=5"), 2,
     "'backbone.mlp.hidden' is a setting that takes one list[int] value", None),
    ("any-setting-given-a-mapping", ("--learner", "maml", "train.task_chunk={a: 1}"), 2,
     "config key 'train.task_chunk': value {'a': 1} is a mapping, but the setting takes one value", None),
    ("section-mapping-with-a-typo", ("--learner", "maml", "train={meta_iteration: 5}"), 2,
     "unknown config key 'train.meta_iteration'", None),
    ("yaml-mapping-under-a-setting", ("--config", "{tmp}/nested.yaml"), 2,
     "'train.meta_iterations' is a setting that takes one int value, not a section with keys", nested_yaml),
    ("yaml-section-a-list", ("--config", "{tmp}/list.yaml"), 2,
     "config key 'train' is a section, not a setting, so it cannot be [1, 2]", section_list_yaml),
    ("suite-settings-section-a-value", ("--suite", "{tmp}/scalar.yaml"), 2,
     "config key 'train' is a section, not a setting, so it cannot be 5", suite_scalar_section),
    ("suite-settings-setting-a-mapping", ("--suite", "{tmp}/mapping.yaml"), 2,
     "'learner.maml.inner_lr' is a setting that takes one float value", suite_mapping_for_a_setting),
    # files and lists that are not what they look like
    ("config-dev-null", ("--config", "/dev/null"), 2,
     "config file '/dev/null' is not a regular file (a character device); give the path of a YAML file", None),
    ("config-a-folder", ("--config", "{tmp}"), 2, "is a folder, not a file; give the path of a YAML file", None),
    ("suite-a-folder", ("--suite", "{tmp}/"), 2, "is a folder, not a file; give a suite name or the path", None),
    ("suite-empty-learner-list", ("--suite", "{tmp}/empty-learner.yaml"), 2,
     "empty-learner.yaml' grid block 1: learner: no value given; name one or more, separated by commas (e.g. "
     "maml,protonet)", suite_empty_learner),
    ("suite-empty-grid", ("--suite", "{tmp}/empty-grid.yaml"), 2,
     "has an empty 'grid', so there is nothing to run: list at least one block", suite_empty_grid),
    ("adversary-empty", ("--learner", "protonet", "--adversary", ","), 2,
     "--adversary: no value given; name one or more, separated by commas (e.g. none,dann)", None),
    # what already worked, kept working
    ("unknown-key", ("--learner", "maml", "learner.maml.inner_lrr=0.1"), 2, "did you mean 'inner_lr'", None),
    ("wrong-type", ("--learner", "maml", "learner.maml.inner_steps=many"), 2, "'learner.maml.inner_steps'", None),
    ("malformed-yaml", ("--config", "{tmp}/bad.yaml"), 2, "line 3, column 1", malformed_yaml),
    ("override-without-equals", ("--learner", "maml", "inner_lr"), 2, "is not of the form key=value", None),
    ("workers-zero", ("--learner", "maml", "--workers", "0"), 2, "--workers 0", None),
    ("threads-zero", ("--learner", "maml", "--threads", "0"), 2, "--threads 0: give 1 or more", None),
    ("gpu-on-cpu", ("--learner", "maml", "--device", "cuda"), 2, "no CUDA GPU", fake_gpu_check),
    ("unknown-adversary", ("--learner", "maml", "--adversary", "dannn"), 2, "unknown adversary 'dannn'", None),
    ("n-way-above-classes", (*PROTONET_DIGITS, "benchmark.digits.n_way=8", *TINY), 2, "fewer than n_way=8", None),
    # the store
    ("store-uncreatable", ("--learner", "maml", "--store", "/proc/forbidden/x"), 2,
     "cannot create the results store folder /proc/forbidden/x", None),
    ("store-under-a-file", ("--learner", "maml", "--store", "{tmp}/afile/store"), 2, "afile is a file, not a folder",
     a_file),
    ("store-garbage", ("--learner", "maml", "--store", "{tmp}/bad"), 2,
     "is not a metareg results store (it is not a SQLite database); it was left untouched", garbage_store),
    ("store-foreign-database", ("--learner", "maml", "--store", "{tmp}/foreign"), 2,
     "tables are photos, with no runs table", foreign_database),
    ("store-newer-schema", ("--learner", "maml", "--store", "{tmp}/newer"), 2,
     "schema version 99, written by a newer metareg", newer_store),
    ("store-damaged", ("--learner", "maml", "--store", "{tmp}/damaged"), 2,
     "is damaged or not a metareg results store (database disk image is malformed)", damaged_store),
]


def _expand(args: tuple[str, ...], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in args]


def _rows_in(store: Path) -> int:
    """Rows of the run table in the tmp store (0 when there is no store); a row here is a run that was stored."""
    path = store / "results.sqlite"
    if not path.exists():
        return 0
    return len(Store(store).runs())


@pytest.mark.parametrize("args, code, fragment, setup", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_bench_input_exits_with_one_clear_line_and_stores_nothing(run_cli, tmp_path, args, code, fragment, setup):
    if setup:
        setup(tmp_path)
    got, out, err = run_cli("bench", "--quiet", *_expand(args, tmp_path))
    assert (got, "Traceback" in out + err) == (code, False), err
    assert fragment in err, err
    assert err.count("metareg: error:") == 1, err
    assert _rows_in(tmp_path / "store") == 0


def report_folder(tmp: Path) -> None:
    Store(tmp / "store")
    (tmp / "report" / "leaderboard.md").mkdir(parents=True)


def only_failed_runs(tmp: Path) -> None:
    store = Store(tmp / "store")
    run = store.start(config_hash="h-failed", parts={"benchmark": "sinusoid", "backbone": "mlp", "learner": "maml"},
                      seed=0, device="cpu", config={"run": {"seed": 0}}, versions={"metareg": "0.1.0"})
    store.finish(run, status="failed", wall_time=1.0, error="FloatingPointError: loss became nan by iteration 3")


LEADERBOARD_ROWS = [
    ("missing-store", ("--store", "{tmp}/nowhere"), 2, "no results store at", None),
    ("garbage-store", ("--store", "{tmp}/bad"), 2, "is not a metareg results store", garbage_store),
    ("foreign-database", ("--store", "{tmp}/foreign"), 2, "with no runs table", foreign_database),
    ("newer-schema", ("--store", "{tmp}/newer"), 2, "schema version 99", newer_store),
    ("unknown-format", ("--format", "pdf"), 2, "--format 'pdf'", None),
    ("seed-too-large", ("--seeds", "99999999999999999999"), 2, "a seed must be at least 0", None),
    ("format-empty", ("--format", ","), 2, "--format: no value given; name one or more, separated by commas (e.g. "
                                           "md,html)", None),
    ("out-a-file", ("--out", "{tmp}/afile"), 2, "--out '{tmp}/afile' is a file, not a folder; give a folder", a_file),
    ("out-under-a-file", ("--out", "{tmp}/afile/report"), 2, "is under '{tmp}/afile', which is a file", a_file),
    ("out-uncreatable", ("--out", "/proc/forbidden/report"), 2, "--out '/proc/forbidden/report': cannot create "
                                                                "the folder", None),
    ("out-report-is-a-folder", ("--out", "{tmp}/report"), 2, "cannot write '{tmp}/report/leaderboard.md' (Is a "
                                                             "directory); a folder has that name", report_folder),
    ("only-failed-runs", (), 0, "No run on this benchmark has finished, so there is no test metric to show yet",
     only_failed_runs),
]


@pytest.mark.parametrize("args, code, fragment, setup", [r[1:] for r in LEADERBOARD_ROWS],
                         ids=[r[0] for r in LEADERBOARD_ROWS])
def test_bad_leaderboard_input_exits_with_one_clear_line(run_cli, tmp_path, args, code, fragment, setup):
    if setup:
        setup(tmp_path)
    if fragment.startswith("a seed"):  # a store to read, so that the seeds are what is wrong
        Store(tmp_path / "store")
    got, out, err = run_cli("leaderboard", *_expand(args, tmp_path))
    assert (got, "Traceback" in out + err) == (code, False), err
    assert fragment.replace("{tmp}", str(tmp_path)) in (err if code else out), err
    assert "Test metric ()" not in out


def test_a_garbage_store_is_left_byte_for_byte_as_it_was_by_bench_and_leaderboard(run_cli, tmp_path):
    garbage_store(tmp_path)
    path = tmp_path / "bad" / "results.sqlite"
    for command in (("bench", "--learner", "maml", "--quiet", *TINY), ("leaderboard",)):
        code, _, err = run_cli(*command, "--store", str(tmp_path / "bad"))
        assert code == 2 and "not a metareg results store" in err and "Traceback" not in err
        assert path.read_bytes() == GARBAGE
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.sqlite"]  # no -wal, no -shm, no journal


def test_a_foreign_database_is_left_byte_for_byte_as_it_was(run_cli, tmp_path):
    foreign_database(tmp_path)
    path = tmp_path / "foreign" / "results.sqlite"
    before = path.read_bytes()
    code, _, err = run_cli("leaderboard", "--store", str(path.parent))
    assert code == 2 and "no runs table" in err
    assert path.read_bytes() == before


def test_nan_losses_are_still_a_run_stored_as_failed_with_the_iteration(run_cli, tmp_path):
    code, out, err = run_cli("bench", "--learner", "maml", "--quiet", "learner.maml.inner_lr=1e30", *TINY)
    assert code == 1 and "Traceback" not in out + err
    [row] = Store(tmp_path / "store").runs()
    assert row.status == "failed" and "loss became" in row.error and "iteration" in row.error


def test_an_unexpected_exception_is_one_line_saying_it_is_a_bug(run_cli, monkeypatch):
    import metareg.commands.plugins as plugins_command

    def broken(args):
        raise KeyError("the registry lost a family")

    monkeypatch.setattr(plugins_command, "run", broken)
    code, out, err = run_cli("plugins")
    assert code == 1 and "Traceback" not in out + err
    [line] = err.strip().splitlines()
    assert "a bug in metareg" in line and "KeyError: 'the registry lost a family'" in line
    assert "METAREG_RAISE_ERRORS=1" in line


def test_metareg_raise_errors_shows_the_traceback_of_either_kind(run_cli, monkeypatch):
    import metareg.commands.plugins as plugins_command

    monkeypatch.setattr(plugins_command, "run", lambda args: 1 / 0)
    monkeypatch.setenv("METAREG_RAISE_ERRORS", "1")
    with pytest.raises(ZeroDivisionError):
        run_cli("plugins")
    with pytest.raises(Exception, match="train.meta_iterations must be at least 1"):
        run_cli("bench", "--learner", "maml", "train.meta_iterations=0")


def test_a_keyboard_interrupt_is_not_called_a_bug(run_cli, monkeypatch):
    import metareg.commands.plugins as plugins_command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(plugins_command, "run", interrupted)
    code, out, err = run_cli("plugins")
    assert code == 130 and "internal error" not in err and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert "interrupted by Ctrl-C (SIGINT) during `metareg plugins`" in line


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory):
    """A tiny stored ProtoNet run on digits (5-way) that ``predict`` can load: (its store, its id)."""
    from helpers.runs import TINY_DIGITS
    from metareg.commands.cli import main

    store = tmp_path_factory.mktemp("predict-store")
    assert main(["bench", "--learner", "protonet", "--benchmark", "digits", "--store", str(store), "--quiet",
                 *TINY_DIGITS]) == 0
    (row,) = Store(store).runs()
    return store, row.id


def _image(path: Path, size: tuple[int, int] = (8, 8)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, 128).save(path)


def labelled_folders(tmp: Path) -> None:
    """``support`` with one image in each of 5 class folders, ``query`` with two images."""
    for c in range(5):
        _image(tmp / "support" / f"c{c}" / "a.png")
    for name in ("q0.png", "q1.png"):
        _image(tmp / "query" / name)


def nested_queries(tmp: Path) -> None:
    labelled_folders(tmp)
    _image(tmp / "query" / "more" / "q2.png")
    _image(tmp / "query" / "more" / "deeper" / "q3.png")


def empty_support(tmp: Path) -> None:
    labelled_folders(tmp)
    (tmp / "empty").mkdir()


def bomb_query(tmp: Path) -> None:
    """A query image whose header declares more pixels than Pillow's decompression-bomb limit (a 12 kB PNG)."""
    from PIL import Image

    labelled_folders(tmp)
    Image.new("1", (12000, 8000)).save(tmp / "query" / "bomb.png")


PREDICT = ("--support", "{tmp}/support", "--query", "{tmp}/query")
#: id, arguments after ``predict --run ID --store STORE`` ({run} for the run's id), exit code, fragment (in stderr),
#: setup(tmp) or None
PREDICT_ROWS = [
    ("run-id-too-large-for-sqlite", ("--run", "99999999999999999999", *PREDICT), 2,
     "'99999999999999999999' is not a valid run id: a run id is a whole number from 1 to 9223372036854775807",
     labelled_folders),
    ("run-id-not-whole", ("--run", "1e23", *PREDICT), 2, "'1e23' is not a valid run id", labelled_folders),
    ("run-id-arabic-indic-digit", ("--run", "\u0663", *PREDICT), 2, "--run '\u0663' is not a run id",
     labelled_folders),
    ("support-without-class-folders", ("--run", "{run}", "--support", "{tmp}/empty", "--query", "{tmp}/query"), 2,
     "--support '{tmp}/empty' holds no class folder: give one subfolder of images per class, 5 for run", empty_support),
    ("decompression-bomb", ("--run", "{run}", *PREDICT), 2,
     "image '{tmp}/query/bomb.png' is too large: it has more than", bomb_query),
    ("out-in-a-missing-folder", ("--run", "{run}", *PREDICT, "--out", "{tmp}/nowhere/labels.csv"), 2,
     "--out '{tmp}/nowhere/labels.csv': the folder '{tmp}/nowhere' does not exist; create it first",
     labelled_folders),
    ("out-a-folder", ("--run", "{run}", *PREDICT, "--out", "{tmp}/query"), 2,
     "--out '{tmp}/query' is a folder, not a file; give a file path, e.g. '{tmp}/query/predictions.csv'",
     labelled_folders),
    ("out-under-a-file", ("--run", "{run}", *PREDICT, "--out", "{tmp}/query/q0.png/labels.csv"), 2,
     "'{tmp}/query/q0.png' is a file, not a folder; give a path in a folder", labelled_folders),
    ("out-unwritable", ("--run", "{run}", *PREDICT, "--out", "/proc/labels.csv"), 2,
     "--out: cannot write '/proc/labels.csv'", labelled_folders),
    ("nested-queries-are-named", ("--run", "{run}", *PREDICT), 0,
     "metareg: warning: --query '{tmp}/query': 2 file(s) in 2 subfolder(s) (e.g. '{tmp}/query/more') are not "
     "labelled", nested_queries),
]


@pytest.mark.parametrize("args, code, fragment, setup", [r[1:] for r in PREDICT_ROWS], ids=[r[0] for r in PREDICT_ROWS])
def test_bad_predict_input_exits_with_one_clear_line(run_cli, tmp_path, classification_run, args, code, fragment,
                                                     setup):
    store, run_id = classification_run
    setup(tmp_path)
    given = [a.replace("{run}", str(run_id)) for a in _expand(args, tmp_path)]
    got, out, err = run_cli("predict", "--store", str(store), *given)
    assert (got, "Traceback" in out + err) == (code, False), err
    assert fragment.replace("{tmp}", str(tmp_path)) in err, err
    assert "n_way=0" not in err and "internal error" not in err
    assert not (tmp_path / "nowhere").exists()


def a_store(tmp: Path) -> None:
    Store(tmp / "store")


#: ``metareg runs``: id, arguments, exit code, fragment, setup(tmp) or None
RUNS_ROWS = [
    ("show-id-too-large-for-sqlite", ("show", "99999999999999999999"), 2,
     "'99999999999999999999' is not a valid run id: a run id is a whole number from 1 to", a_store),
    ("show-id-negative-and-too-large", ("show", "-99999999999999999999"), 2, "is not a valid run id", a_store),
    ("show-id-not-whole", ("show", "1e23"), 2, "'1e23' is not a valid run id", a_store),
]


@pytest.mark.parametrize("args, code, fragment, setup", [r[1:] for r in RUNS_ROWS], ids=[r[0] for r in RUNS_ROWS])
def test_bad_runs_input_exits_with_one_clear_line(run_cli, tmp_path, args, code, fragment, setup):
    setup(tmp_path)
    got, out, err = run_cli("runs", *args)
    assert (got, "Traceback" in out + err) == (code, False), err
    assert fragment in err and err.count("\n") == 1, err


#: stands for every installed plugin that registers a benchmark (the built-ins, and any third-party one, such as the
#: example plugin CI installs), read from the registry when the row runs
ALL_BENCHMARKS = "<every benchmark plugin>"
#: the plugin filters: id, environment, command, exit code, fragment (in stderr)
PLUGIN_FILTER_ROWS = [
    ("load-plugins-empty", {"METAREG_LOAD_PLUGINS": ""}, ("bench", "--learner", "maml"), 2,
     "available learners: none loaded; METAREG_LOAD_PLUGINS='' loads no plugin, leaving out"),
    ("load-plugins-one", {"METAREG_LOAD_PLUGINS": "maml"}, ("bench", "--learner", "maml"), 2,
     "none loaded; METAREG_LOAD_PLUGINS='maml' loads only maml, leaving out"),
    ("block-every-benchmark", {"METAREG_BLOCK_PLUGINS": ALL_BENCHMARKS}, ("bench", "--learner", "maml"), 2,
     "available benchmarks: none loaded; METAREG_BLOCK_PLUGINS="),
    ("block-name-misspelt", {"METAREG_BLOCK_PLUGINS": "mamll"}, ("plugins",), 0,
     "metareg: warning: METAREG_BLOCK_PLUGINS names 'mamll', which is no installed plugin or part, so it has no "
     "effect; did you mean 'maml'?"),
    ("load-name-misspelt", {"METAREG_LOAD_PLUGINS": "mamll,backbones"}, ("plugins",), 0,
     "metareg: warning: METAREG_LOAD_PLUGINS names 'mamll', which is no installed plugin"),
]


@pytest.mark.parametrize("env, args, code, fragment", [r[1:] for r in PLUGIN_FILTER_ROWS],
                         ids=[r[0] for r in PLUGIN_FILTER_ROWS])
def test_plugin_filters_are_named_when_they_explain_a_missing_part(run_cli, monkeypatch, registry, env, args, code,
                                                                  fragment):
    every_benchmark = ",".join(sorted({info.plugin for info in registry.parts["benchmark"].values()}))
    for name, value in env.items():
        monkeypatch.setenv(name, value.replace(ALL_BENCHMARKS, every_benchmark))
    got, out, err = run_cli(*args, *(("--print-config",) if args[0] == "bench" else ()))
    assert (got, "Traceback" in out + err) == (code, False), err
    assert fragment in err and "none installed" not in err, err
