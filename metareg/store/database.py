"""The results store: one SQLite file (standard library), one row per run, written in transactions.

A run row is inserted as ``running`` once its parts are built, and updated to ``done`` (with metrics) or ``failed``
(with the error) when it ends, in one transaction each; a run counts as done only once that commit happened.
WAL mode lets several runners share a store.

A grid runner does not simply insert: it *claims* a cell (:meth:`Store.claim`), which in one write transaction
looks up the cell's config hash and inserts a ``running`` row only if no finished run and no live claim exists. So
two runners on one store never both run a cell, and a finished cell is never repeated. Every ``running`` row names
its owner (host and process id) and carries a heartbeat; a row whose owner is dead (same host) or whose heartbeat
stopped (another host) was left by a killed process and is deleted when the cell is claimed again.

A store's files (models, checkpoints, a generator's weights) are its own: ``Store.files_dir``. The folder store
``DIR/results.sqlite`` owns ``DIR`` (as it always did); any other name ``DIR/NAME.db`` owns ``DIR/NAME.db.files``,
so two stores in one folder never share (or prune, or load) each other's models.

Reading commands open a store with ``readonly=True``: nothing is created, migrated or written, so a store on a
read-only file system, one the user may not write, or one on a full disk still lists, ranks and predicts. A row whose
JSON is damaged is skipped with a warning naming it, so one bad row never makes the rest of a store unreadable.
"""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import sqlite3
import time
import warnings
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from metareg.host import families
from metareg.store.errors import make_folder, sqlite_errors
from metareg.store.readonly import connect_read_only
from metareg.store.schema import check_file, prepare

DEFAULT_DIR = "metareg-results"
DB_NAME = "results.sqlite"

#: a claimed run's heartbeat is refreshed this often (seconds) by the runner that holds it
HEARTBEAT_EVERY = 20.0
#: a ``running`` row on another host whose heartbeat is older than this (seconds) was abandoned
STALE_AFTER = 180.0


def owner_token() -> str:
    """``host:pid`` of this process: who holds a ``running`` row."""
    return f"{socket.gethostname()}:{os.getpid()}"


#: when this module was imported: the start of this process, near enough, where ``/proc`` cannot say
_IMPORTED_AT = time.time()


def process_started_at() -> float:
    """When this process started (the moment a user issued the command), as a ``time.time()`` value.

    A forced rerun redoes the runs started before this moment (``Store.claim``'s ``rerun_before``): two commands
    started together then share the rerun, however long either took to start. Linux's ``/proc`` gives the true
    start; elsewhere the moment metareg's store module was imported, which comes before any claim.
    """
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        since_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # starttime: the 22nd field, after the name
        started = time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot)
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORTED_AT
    return min(started, _IMPORTED_AT)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def is_abandoned(owner: str | None, heartbeat_at: float | None, now: float | None = None) -> bool:
    """Whether a ``running`` row's owner is gone: on this host its process is dead; elsewhere its heartbeat stopped.

    On this host the process table is the truth (a SIGKILLed runner's rows are redone at once); across hosts only
    the heartbeat can tell, so a row there counts as abandoned after ``STALE_AFTER`` seconds without one.
    """
    now = time.time() if now is None else now
    host, _, pid = (owner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _pid_alive(int(pid))
    return heartbeat_at is None or now - heartbeat_at > STALE_AFTER


@dataclass(frozen=True)
class Claim:
    """The answer to :meth:`Store.claim`.

    ``state`` is ``claimed`` (``run_id`` is a new ``running`` row this process must finish or release), ``done`` or
    ``failed`` (``row`` is the latest finished run of the cell), or ``busy`` (``row`` is another live runner's claim).
    ``abandoned`` counts the rows of killed runners that this claim deleted.
    """

    state: str
    run_id: int | None = None
    row: "RunRow | None" = None
    abandoned: int = 0


def store_path(path: str | os.PathLike | None = None) -> Path:
    """``--store PATH`` > ``METAREG_STORE`` > ``./metareg-results``; a folder gets ``results.sqlite`` inside it."""
    chosen = Path(path or os.environ.get("METAREG_STORE") or DEFAULT_DIR)
    return chosen if chosen.suffix in (".sqlite", ".db") else chosen / DB_NAME


def existing_store(path: str | os.PathLike | None = None) -> "Store":
    """The store ``store_path(path)`` names, for commands that only read one (leaderboard, runs, predict): one
    that does not exist is a ConfigError naming the path and the fix, never created."""
    from metareg.errors import ConfigError

    chosen = store_path(path)
    if not chosen.is_file():
        raise ConfigError(f"no results store at {chosen}: run `metareg bench` first, or point --store (or "
                          f"METAREG_STORE) at the store the runs went to")
    return Store(chosen, readonly=True)


def files_dir(path: Path) -> Path:
    """The folder of the store at ``path``'s own files: ``DIR`` for ``DIR/results.sqlite``, else ``PATH.files``."""
    return path.parent if path.name == DB_NAME else path.with_name(f"{path.name}.files")


class DamagedRowError(ValueError):
    """A stored row whose JSON columns cannot be read."""


@dataclass
class RunRow:
    id: int
    config_hash: str
    benchmark: str
    backbone: str
    learner: str
    adversary: str | None
    generator: str | None
    seed: int
    status: str
    error: str | None
    device: str | None
    wall_time: float | None
    started_at: float
    finished_at: float | None
    config: dict
    versions: dict
    metrics: dict | None
    history: list | None
    owner: str | None = None
    heartbeat_at: float | None = None
    #: seconds per phase of the run (``metareg.run.phases``: train, val, test, setup); None before it was recorded
    phases: dict | None = None

    @property
    def parts(self) -> dict[str, str | None]:
        """Each family's part name, as a run's ``parts`` (the store's columns are the families)."""
        return {name: getattr(self, name) for name in families.NAMES}


#: the columns a ``RunRow`` is built from
ROW_FIELDS = frozenset(f.name for f in dataclasses.fields(RunRow))


def standing_run(rows: Sequence[RunRow]) -> RunRow | None:
    """Of one cell's rows (in id order), the run that stands for it: the latest successful one, else the latest
    failed one (a later failed ``--rerun`` never replaces a success); None when none has finished. The one rule
    ``Store.claim``, the leaderboard and ``metareg tune`` read a cell by."""
    finished = [r for r in rows if r.status in ("done", "failed")]
    done = [r for r in finished if r.status == "done"]
    return (done or finished or [None])[-1]


class Store:
    """The results store at ``path`` (see ``store_path``); opening it checks the file before writing anything.

    Every failure a user can cause or fix (a folder that cannot be created or written, a file that is not a metareg
    store or is of a newer schema, a lock held past ``timeout`` seconds) is a ``StoreError`` naming the path
    (``metareg.store.errors``, ``metareg.store.schema``).
    """

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = 60.0, readonly: bool = False):
        self.path = store_path(path)
        self.timeout, self.readonly = timeout, readonly
        if not readonly:
            make_folder(self.path.parent)
        with sqlite_errors(self.path, timeout):
            check_file(self.path, timeout)
            if not readonly:
                prepare(self.path, timeout)

    @property
    def files_dir(self) -> Path:
        """Where this store's models, checkpoints and generator weights live (``files_dir``)."""
        return files_dir(self.path)

    def _connect_read(self) -> sqlite3.Connection:
        if self.readonly:
            return connect_read_only(self.path, self.timeout)
        return sqlite3.connect(self.path, timeout=self.timeout)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with sqlite_errors(self.path, self.timeout), closing(self._connect_read()) as db:
            db.row_factory = sqlite3.Row
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that takes SQLite's write lock at its start (BEGIN IMMEDIATE), so what it reads
        cannot change before it writes: the basis of a claim."""
        if self.readonly:
            raise RuntimeError(f"{self.path} was opened read-only")  # metareg's own mistake, not the user's
        with sqlite_errors(self.path, self.timeout), \
                closing(sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _insert_running(db: sqlite3.Connection, *, config_hash: str, parts: dict[str, str | None], seed: int,
                        device: str, config: dict, versions: dict, owner: str) -> int:
        now = time.time()
        cur = db.execute(
            "INSERT INTO runs (config_hash, benchmark, backbone, learner, adversary, generator, seed, status,"
            " device, started_at, config, versions, owner, heartbeat_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
            (config_hash, parts["benchmark"], parts["backbone"], parts["learner"], parts.get("adversary"),
             parts.get("generator"), seed, device, now, json.dumps(config, sort_keys=True),
             json.dumps(versions, sort_keys=True), owner, now),
        )
        return int(cur.lastrowid)

    def start(self, *, config_hash: str, parts: dict[str, str | None], seed: int, device: str, config: dict,
              versions: dict) -> int:
        """Insert a ``running`` row owned by this process, unconditionally (a single run; grids use ``claim``)."""
        with self._write() as db:
            return self._insert_running(db, config_hash=config_hash, parts=parts, seed=seed, device=device,
                                        config=config, versions=versions, owner=owner_token())

    def claim(self, *, config_hash: str, parts: dict[str, str | None], seed: int, device: str, config: dict,
              versions: dict, owner: str | None = None, rerun: bool = False, retry_failed: bool = False,
              rerun_before: float | None = None) -> Claim:
        """Claim a grid cell for ``owner`` (default: this process), in one write transaction.

        Rows of the cell left ``running`` by a dead owner are deleted first. Then a live claim by someone else makes
        the answer ``busy``; a finished run makes it ``done`` or ``failed`` unless ``rerun`` (any finished run) or
        ``retry_failed`` (a failed latest run) asks to run it again; otherwise a ``running`` row is inserted.
        With ``rerun_before`` (a time), ``rerun`` redoes only runs started before it: a run started since then is
        this rerun's own (another runner of the same forced rerun did it), so a forced rerun still runs each cell
        once, however many runners share it.
        """
        owner = owner or owner_token()
        with self._write() as db:
            rows = self._rows(db.execute("SELECT * FROM runs WHERE config_hash = ? ORDER BY id",
                                         (config_hash,)).fetchall())
            dead = [r.id for r in rows if r.status == "running" and is_abandoned(r.owner, r.heartbeat_at)]
            db.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in dead])
            live = [r for r in rows if r.status == "running" and r.id not in dead]
            finished = [r for r in rows if r.status in ("done", "failed")]
            if live:
                return Claim("busy", row=live[-1], abandoned=len(dead))
            if rerun and rerun_before is not None:  # only what was there before this rerun is redone
                rerun = not any(r.started_at >= rerun_before for r in finished)
            if finished and not rerun:
                standing = standing_run(finished)
                if standing.status == "done":
                    return Claim("done", row=standing, abandoned=len(dead))
                if not retry_failed:
                    return Claim("failed", row=standing, abandoned=len(dead))
            run_id = self._insert_running(db, config_hash=config_hash, parts=parts, seed=seed, device=device,
                                          config=config, versions=versions, owner=owner)
            return Claim("claimed", run_id=run_id, abandoned=len(dead))

    def release(self, run_id: int) -> bool:
        """Delete a claimed row that will not run (the cell turned out incompatible, or the runner was stopped);
        whether it was still ``running`` (a row whose run was committed meanwhile is kept, never deleted)."""
        with self._write() as db:
            return db.execute("DELETE FROM runs WHERE id = ? AND status = 'running'", (run_id,)).rowcount > 0

    def heartbeat(self, owner: str | None = None) -> None:
        """Refresh the heartbeat of every ``running`` row ``owner`` holds (default: this process)."""
        with self._write() as db:
            db.execute("UPDATE runs SET heartbeat_at = ? WHERE owner = ? AND status = 'running'",
                       (time.time(), owner or owner_token()))

    def finish(self, run_id: int, *, status: str, wall_time: float, metrics: dict | None = None,
               history: list | None = None, error: str | None = None, device: str | None = None,
               resolved: dict | None = None, phases: dict | None = None) -> None:
        """Commit a run's outcome; ``device`` replaces the one recorded at the start (where a worker really ran),
        ``resolved`` (``{"train": {"task_chunk": 8}}``: what ``auto`` settings became) is merged into its config, and
        ``phases`` is its wall time split (``metareg.run.phases``)."""
        with self._write() as db:
            if resolved:
                row = db.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
                if row is not None:
                    config = json.loads(row[0])
                    for section, values in resolved.items():
                        config.setdefault(section, {}).update(values)
                    db.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(config), run_id))
            updated = db.execute(
                "UPDATE runs SET status = ?, wall_time = ?, finished_at = ?, metrics = ?, history = ?, error = ?,"
                " device = COALESCE(?, device), phases = ? WHERE id = ?",
                (status, wall_time, time.time(), None if metrics is None else json.dumps(metrics),
                 None if history is None else json.dumps(history), error, device,
                 None if phases is None else json.dumps(phases), run_id),
            ).rowcount
        if not updated:
            from metareg.errors import StoreError

            raise StoreError(f"run {run_id} is no longer in {self.path} (its claim was taken over as abandoned: was "
                             f"this runner paused for over {STALE_AFTER:g} s?), so its outcome could not be stored; "
                             f"the runner that took it over runs it again")

    def runs(self, status: str | None = None, **where: Any) -> list[RunRow]:
        clauses, args = [], []
        if status:
            clauses.append("status = ?")
            args.append(status)
        for column, value in where.items():
            clauses.append(f"{column} IS ?")
            args.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id"
        with self._read() as db:
            return self._rows(db.execute(sql, args).fetchall())

    def _rows(self, raw: list[sqlite3.Row]) -> list[RunRow]:
        """``raw`` as ``RunRow``s, each damaged one skipped with a warning that names it."""
        rows = []
        for r in raw:
            try:
                rows.append(self._row(r))
            except DamagedRowError as exc:
                warnings.warn(f"metareg: {self.path}: {exc}; that run is skipped", RuntimeWarning, stacklevel=3)
        return rows

    def record_study_runs(self, study: str, spec: dict, entries: list[tuple[str, int, str, dict]]) -> None:
        """Note which runs are a ``metareg tune`` study's: (role, number, config hash, the searched values) each,
        with the study's spec. The runs themselves are ordinary rows; this only says what they are to the study
        (``trial``, ``tuned``: the selected configuration on a seed, ``default``: the untuned one), so the board
        can show the tuned row and ``tune --show`` the trials. Written again, an entry is replaced by the same."""
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO study_runs (study, role, number, config_hash, params, spec)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           [(study, role, number, digest, json.dumps(params, sort_keys=True),
                             json.dumps(spec, sort_keys=True)) for role, number, digest, params in entries])

    def study_runs(self, study: str | None = None) -> list[dict]:
        """The rows ``record_study_runs`` wrote (of one study, or all), in study, role and number order; none in a
        store written before studies existed."""
        with self._read() as db:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'study_runs'").fetchone():
                return []
            sql = "SELECT * FROM study_runs" + (" WHERE study = ?" if study else "") + " ORDER BY study, role, number"
            rows = db.execute(sql, (study,) if study else ()).fetchall()
        return [{**dict(r), "params": json.loads(r["params"]), "spec": json.loads(r["spec"])} for r in rows]

    def standing(self, config_hash: str) -> RunRow | None:
        """The run that stands for the cell ``config_hash`` (``standing_run``); None when none has finished."""
        return standing_run(self.runs(config_hash=config_hash))

    def get(self, run_id: int) -> RunRow:
        """The row ``run_id``; a ``KeyError`` when there is none, a ``StoreError`` when its JSON is damaged."""
        with self._read() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run with id {run_id} in {self.path}")
        try:
            return self._row(row)
        except DamagedRowError as exc:
            from metareg.errors import StoreError

            raise StoreError(f"{self.path}: {exc}; the other runs are readable, and a rerun of the cell "
                             f"(`metareg bench --rerun`) stores it afresh") from None

    @staticmethod
    def _row(r: sqlite3.Row) -> RunRow:
        data = dict(r)
        for key in ("config", "versions", "metrics", "history", "phases"):
            if data.get(key) is not None:  # phases: absent from an older store read without migrating it
                try:
                    data[key] = json.loads(data[key])
                except (ValueError, TypeError) as exc:
                    raise DamagedRowError(f"run {data['id']}'s {key} is damaged ({exc})") from None
        if not isinstance(data["config"], dict) or not isinstance(data["versions"], dict):
            raise DamagedRowError(f"run {data['id']}'s config or versions is not a mapping")
        return RunRow(**{k: v for k, v in data.items() if k in ROW_FIELDS})  # a column added later is not read
