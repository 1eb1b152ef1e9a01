"""Where a study lives: storage URL -> Optuna storage, with heartbeats and a connection check.

Three kinds of storage, all of them Optuna's own (no home-made scheduler):

* **SQLite** (default): ``<run folder>/study.db``. Good for one machine, several local workers.
* **Any SQLAlchemy URL** (``postgresql://user:pw@host/db``, ``mysql+pymysql://...``): Optuna's
  RDB storage; the way to run workers on many machines. PostgreSQL needs the ``postgres`` extra
  (``pip install hwprune[postgres]``).
* **Journal file** (``journal:///shared/nfs/study.log`` or a plain path ending in ``.log`` or
  ``.journal``): Optuna's journal storage, an append-only log file that works on a shared file
  system such as NFS without a database server.

Every storage is opened with a *heartbeat*: a running trial records a heartbeat every
``heartbeat_interval`` seconds; when a worker finds a RUNNING trial whose last heartbeat is
older than ``grace_period``, it marks the trial FAIL and re-queues its parameters as a WAITING
trial (Optuna's :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback`), which the next free
worker runs. Optuna implements heartbeats for RDB storages only; for the journal file,
:class:`HeartbeatJournalStorage` adds the same protocol on top of Optuna's journal storage (the
heartbeat is a trial system attribute written to the journal; machines sharing a journal must
have their clocks synchronised to well within ``grace_period``, e.g. with NTP).

Example:
    >>> import tempfile, optuna
    >>> run = tempfile.mkdtemp()
    >>> storage = open_storage(None, run_dir=run)            # sqlite:///<run>/study.db
    >>> study = optuna.create_study(storage=storage, study_name="demo")
    >>> parse_storage("postgresql://me:secret@db.lab:5432/hw").redacted()
    'postgresql://me:***@db.lab:5432/hw'
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import BaseJournalBackend, JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from hwprune.errors import StorageError
from hwprune.journal_lock import OwnedSymlinkLock

__all__ = [
    "AtomicClaimRDBStorage",
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_MAX_RETRY",
    "HEARTBEAT_ATTR",
    "HeartbeatJournalStorage",
    "StorageSpec",
    "check_storage",
    "open_storage",
    "parse_storage",
    "redact_url",
]

logger = logging.getLogger(__name__)

#: Seconds between two heartbeats of a running trial.
DEFAULT_HEARTBEAT_INTERVAL = 30
#: Seconds without a heartbeat after which a RUNNING trial counts as dead (failed, re-queued).
DEFAULT_GRACE_PERIOD = 120
#: How many times one candidate is re-queued after its worker died (then it stays FAIL).
DEFAULT_MAX_RETRY = 3
#: Trial system attribute that holds the last heartbeat (Unix time) in a journal storage.
HEARTBEAT_ATTR = "hwprune:heartbeat"
#: Name of the default SQLite file inside the run folder.
DEFAULT_DB_NAME = "study.db"

StorageKind = Literal["sqlite", "rdb", "journal"]

_JOURNAL_SUFFIXES = (".log", ".journal")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


#: query parameters whose value is a secret (``?password=...``, ``&sslpassword=...``)
_SECRET_KEYS = re.compile(r"(pass|pwd|secret|token|api[_-]?key|credential)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """Hide every password of a database URL (for logs, summaries, reports and errors).

    The user-info part runs from ``scheme://`` to the *last* ``@`` before the query, as in
    SQLAlchemy's URL parser, so a password holding ``/``, ``:`` or even ``@`` is hidden whole;
    query parameters that carry a secret (``password=``, ``sslpassword=``, ``token=``, ...) are
    hidden too.

    Example:
        >>> redact_url("postgresql://hw:pa55@10.0.0.5/optuna")
        'postgresql://hw:***@10.0.0.5/optuna'
        >>> redact_url("postgresql://hw:a/b@db/optuna")
        'postgresql://hw:***@db/optuna'
        >>> redact_url("postgresql://db/optuna?user=hw&password=x")
        'postgresql://db/optuna?user=hw&password=***'
        >>> redact_url("sqlite:///run/study.db")
        'sqlite:///run/study.db'
    """
    text = str(url)
    head = _URL_SCHEME.match(text)
    if head is None:
        return text
    scheme, rest = text[: head.end()], text[head.end() :]
    if scheme.lower().startswith(("sqlite", "journal")):
        return text  # a file path, no secret in it
    base, qmark, query = rest.partition("?")
    at = base.rfind("@")
    if at >= 0:
        user, colon, _password = base[:at].partition(":")
        base = f"{user}:***{base[at:]}" if colon else base
    if qmark:
        parts = []
        for item in query.split("&"):
            key, eq, _value = item.partition("=")
            parts.append(f"{key}=***" if eq and _SECRET_KEYS.search(key) else item)
        query = "&".join(parts)
    return f"{scheme}{base}{qmark}{query}"


@dataclass(frozen=True)
class StorageSpec:
    """A parsed storage location.

    Attributes:
        kind: ``"sqlite"``, ``"rdb"`` (any other SQLAlchemy URL) or ``"journal"``.
        url: the SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``) or, for a journal,
            ``journal:///<absolute path>``.
        path: the database or journal file for file-based kinds, else ``None``.

    Example:
        >>> s = parse_storage("journal:///tmp/x/study.log")
        >>> s.kind, str(s.path)
        ('journal', '/tmp/x/study.log')
    """

    kind: StorageKind
    url: str
    path: Path | None = None

    def redacted(self) -> str:
        """The URL with its password hidden."""
        return redact_url(self.url)

    @property
    def dialect(self) -> str:
        """The URL scheme without driver: ``sqlite``, ``postgresql``, ``mysql``, ``journal``."""
        return self.url.split("://", 1)[0].split("+", 1)[0].lower()


def parse_storage(
    url: str | os.PathLike[str] | None, run_dir: str | os.PathLike[str] | None = None
) -> StorageSpec:
    """Turn what the user typed after ``--storage`` into a :class:`StorageSpec`.

    * ``None`` or ``""``: ``sqlite:///<run_dir>/study.db`` (``run_dir`` is then required);
    * ``journal:///abs/path.log`` or ``journal://rel/path``, or a path ending in ``.log`` /
      ``.journal``: a journal file (relative paths are taken from the current folder);
    * a path ending in ``.db`` / ``.sqlite`` / ``.sqlite3``: that SQLite file;
    * anything else with ``scheme://``: handed to SQLAlchemy as it is.

    Example:
        >>> parse_storage(None, run_dir="/runs/a").url
        'sqlite:////runs/a/study.db'
        >>> parse_storage("/nfs/hw/study.journal").url
        'journal:///nfs/hw/study.journal'
        >>> parse_storage("postgresql+psycopg2://u@h/db").kind
        'rdb'
    """
    if url is None or str(url).strip() == "":
        if run_dir is None:
            raise StorageError(
                "no storage given and no run folder to put the default study.db in; "
                "pass --storage URL or --out FOLDER"
            )
        path = Path(run_dir).expanduser().absolute() / DEFAULT_DB_NAME
        return StorageSpec("sqlite", f"sqlite:///{path}", path)
    text = os.fspath(url).strip()
    if text.lower().startswith("journal:"):
        rest = text[len("journal:") :]
        rest = rest[2:] if rest.startswith("//") else rest
        rest = "/" + rest.lstrip("/") if rest.startswith("/") else rest
        if not rest:
            raise StorageError(
                f"the journal storage URL {text!r} names no file; "
                "write it as journal:///absolute/path/study.log"
            )
        path = Path(rest).expanduser().absolute()
        return StorageSpec("journal", f"journal://{path}", path)
    if not _URL_SCHEME.match(text):
        path = Path(text).expanduser().absolute()
        if path.suffix.lower() in _JOURNAL_SUFFIXES:
            return StorageSpec("journal", f"journal://{path}", path)
        if path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
            return StorageSpec("sqlite", f"sqlite:///{path}", path)
        raise StorageError(
            f"cannot tell what kind of storage {text!r} is; give a database URL "
            "(postgresql://user:password@host/db, sqlite:///path/study.db) or a journal file "
            "(journal:///path/study.log)"
        )
    scheme = text.split("://", 1)[0].lower()
    if scheme.split("+", 1)[0] == "sqlite":
        db = text.split("://", 1)[1]
        # sqlite:///relative.db -> "/relative.db"; sqlite:////abs.db -> "//abs.db"
        path = None if db in ("", "/", "/:memory:") else Path(db[1:] if db.startswith("/") else db)
        if path is not None:
            path = path.expanduser().absolute()
            return StorageSpec("sqlite", f"{scheme}:///{path}", path)
        return StorageSpec("sqlite", text, None)
    if scheme.startswith("redis"):
        raise StorageError(
            f"redis storage ({redact_url(text)}) is not supported; use PostgreSQL "
            "(postgresql://...) or a journal file on a shared file system (journal:///...)"
        )
    return StorageSpec("rdb", text, None)


def _driver_url(spec: StorageSpec) -> str:
    """The URL handed to SQLAlchemy: a bare ``postgresql://`` gets an installed driver.

    SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; hwprune's ``postgres`` extra installs
    psycopg2, so a URL without a driver uses whichever of the two is importable (psycopg2
    first). An explicit ``postgresql+driver://`` is left as it is.
    """
    scheme, sep, rest = spec.url.partition("://")
    if spec.kind != "rdb" or scheme.lower() not in ("postgresql", "postgres"):
        return spec.url
    for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}{sep}{rest}"
    return spec.url


def _reason(exc: BaseException) -> str:
    """One line from an exception (driver errors are often multi-line)."""
    orig = getattr(exc, "orig", None)  # sqlalchemy wraps the DB-API error
    text = str(orig if orig is not None else exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # psycopg2 puts the useful line ("Connection refused", "password authentication failed")
    # after a generic "connection to server at ... failed:" line; keep both, joined.
    return " ".join(lines[:2]).rstrip(".;")


def _rdb_hint(spec: StorageSpec) -> str:
    if spec.dialect == "sqlite":
        return "check that the folder exists and is writable"
    return (
        "check that the server is running and reachable from this machine, and the user, "
        "password and database name in the URL"
    )


def _engine_kwargs(spec: StorageSpec) -> dict[str, Any]:
    if spec.dialect == "sqlite":
        # several local worker processes share one file: wait for the lock instead of failing
        return {"connect_args": {"timeout": 120}}
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if spec.dialect in ("postgresql", "mysql", "mariadb"):
        kwargs["connect_args"] = {"connect_timeout": 10}
    return kwargs


def check_storage(spec: StorageSpec | str, run_dir: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`~hwprune.errors.StorageError` unless the storage can be used from here.

    For a database: opens one connection (10 s timeout) and runs ``SELECT 1``. For SQLite and
    journal files: checks that the folder exists and is writable. The message reads
    ``cannot connect to <url, password hidden>: <reason>; check ...``.

    Example:
        >>> import tempfile
        >>> check_storage(parse_storage(None, run_dir=tempfile.mkdtemp()))
    """
    spec = parse_storage(spec, run_dir) if not isinstance(spec, StorageSpec) else spec
    if spec.path is not None:
        folder = spec.path.parent
        if not folder.is_dir():
            raise StorageError(
                f"cannot connect to {spec.redacted()}: the folder {folder} does not exist; "
                "create it (on a shared file system for workers on several machines)"
            )
        if not os.access(folder, os.W_OK):
            raise StorageError(
                f"cannot connect to {spec.redacted()}: the folder {folder} is not writable; "
                "check its permissions"
            )
        if spec.kind == "journal":
            return
    try:
        import sqlalchemy
    except ImportError as exc:  # pragma: no cover - optuna depends on sqlalchemy
        raise StorageError("SQLAlchemy is missing; reinstall optuna") from exc
    try:
        engine = sqlalchemy.create_engine(_driver_url(spec), **_engine_kwargs(spec))
    except (ImportError, ModuleNotFoundError) as exc:
        raise StorageError(_driver_message(spec, exc)) from exc
    except Exception as exc:  # sqlalchemy.exc.ArgumentError, NoSuchModuleError, ...
        raise StorageError(
            f"cannot connect to {spec.redacted()}: {_reason(exc)}; check the URL, e.g. "
            "postgresql://user:password@host:5432/dbname"
        ) from exc
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    except (ImportError, ModuleNotFoundError) as exc:
        raise StorageError(_driver_message(spec, exc)) from exc
    except Exception as exc:
        raise StorageError(
            f"cannot connect to {spec.redacted()}: {_reason(exc)}; {_rdb_hint(spec)}"
        ) from exc
    finally:
        engine.dispose()


def _driver_message(spec: StorageSpec, exc: BaseException) -> str:
    extra = " (pip install 'hwprune[postgres]')" if spec.dialect == "postgresql" else ""
    return (
        f"cannot connect to {spec.redacted()}: the database driver is not installed "
        f"({_reason(exc)}); install it{extra}"
    )


def _retry_callback(max_retry: int | None) -> Callable[[optuna.Study, FrozenTrial], None]:
    """Optuna's retry callback, plus a log line, minus our heartbeat attribute."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning
        retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def requeue_stale_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        history = trial.system_attrs.get("retry_history", [])
        if max_retry is not None and len(history) >= max_retry:
            logger.warning(
                "trial %d stopped sending heartbeats (its worker died?); it was retried %d "
                "times already, so it stays failed",
                trial.number,
                len(history),
            )
        else:
            logger.warning(
                "trial %d stopped sending heartbeats (its worker died?); marked failed and "
                "re-queued with the same parameters",
                trial.number,
            )
        clean = copy.copy(trial)
        clean.system_attrs = {k: v for k, v in trial.system_attrs.items() if k != HEARTBEAT_ATTR}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            retry(study, clean)

    return requeue_stale_trial


def open_storage(
    url: str | os.PathLike[str] | StorageSpec | None,
    run_dir: str | os.PathLike[str] | None = None,
    *,
    heartbeat_interval: int | None = DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: int | None = DEFAULT_GRACE_PERIOD,
    max_retry: int | None = DEFAULT_MAX_RETRY,
    check: bool = True,
) -> BaseStorage:
    """Open (creating if needed) the Optuna storage behind ``url``, with heartbeats.

    Args:
        url: what the user gave to ``--storage`` (see :func:`parse_storage`); ``None`` means
            ``<run_dir>/study.db``.
        run_dir: the run folder, for the default SQLite file.
        heartbeat_interval: seconds between heartbeats of a running trial; ``None`` turns
            heartbeats (and so the recovery of trials whose worker died) off.
        grace_period: seconds without heartbeat before a RUNNING trial is failed and re-queued
            (at least twice ``heartbeat_interval``; a long checkpoint write or a GC pause must
            not look like death).
        max_retry: how many times a candidate whose worker died is re-queued (``None``:
            forever).
        check: test the connection first and raise :class:`~hwprune.errors.StorageError` with a
            one-line reason instead of a driver traceback.

    Returns:
        An Optuna storage to pass to ``optuna.create_study(storage=...)`` /
        ``optuna.load_study``.

    Example:
        >>> import tempfile, optuna
        >>> st = open_storage(f"journal://{tempfile.mkdtemp()}/s.log", heartbeat_interval=5)
        >>> optuna.create_study(storage=st).optimize(lambda t: t.suggest_float("x", 0, 1), 2)
    """
    spec = url if isinstance(url, StorageSpec) else parse_storage(url, run_dir)
    if heartbeat_interval is not None:
        if heartbeat_interval <= 0:
            raise StorageError(
                f"heartbeat interval must be a positive number of seconds, got "
                f"{heartbeat_interval}; use e.g. 30"
            )
        if grace_period is None:
            grace_period = 2 * heartbeat_interval
        if grace_period <= heartbeat_interval:
            raise StorageError(
                f"grace period ({grace_period} s) must be longer than the heartbeat interval "
                f"({heartbeat_interval} s); use at least twice the interval"
            )
    if check:
        check_storage(spec)
    callback = _retry_callback(max_retry) if heartbeat_interval is not None else None
    if spec.kind == "journal":
        return _open_journal(spec, heartbeat_interval, grace_period, callback)
    return _open_rdb(spec, heartbeat_interval, grace_period, callback)


def _open_rdb(
    spec: StorageSpec,
    heartbeat_interval: int | None,
    grace_period: int | None,
    callback: Callable[[optuna.Study, FrozenTrial], None] | None,
) -> BaseStorage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for heartbeat_interval
            return AtomicClaimRDBStorage(
                _driver_url(spec),
                engine_kwargs=_engine_kwargs(spec),
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period if heartbeat_interval is not None else None,
                heartbeat_stale_trial_callback=callback,
            )
    except (ImportError, ModuleNotFoundError) as exc:
        raise StorageError(_driver_message(spec, exc)) from exc
    except RuntimeError as exc:  # schema version mismatch
        raise StorageError(
            f"cannot use {spec.redacted()}: {_reason(exc)}; run `optuna storage upgrade "
            "--storage URL` or use the optuna version that created it"
        ) from exc
    except Exception as exc:
        raise StorageError(
            f"cannot connect to {spec.redacted()}: {_reason(exc)}; {_rdb_hint(spec)}"
        ) from exc


def _open_journal(
    spec: StorageSpec,
    heartbeat_interval: int | None,
    grace_period: int | None,
    callback: Callable[[optuna.Study, FrozenTrial], None] | None,
) -> BaseStorage:
    assert spec.path is not None
    try:
        lock = OwnedSymlinkLock(
            str(spec.path), grace_period=journal_lock_grace(heartbeat_interval, grace_period)
        )
        backend = JournalFileBackend(str(spec.path), lock_obj=lock)
        return HeartbeatJournalStorage(
            backend,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=callback,
        )
    except OSError as exc:
        raise StorageError(
            f"cannot connect to {spec.redacted()}: {exc.strerror or exc}; check that the file "
            "is on a mounted, writable file system"
        ) from exc
    except ValueError as exc:
        raise StorageError(
            f"cannot read the journal {spec.path}: {_reason(exc)}; the file is not an Optuna "
            "journal or is damaged, start a new one"
        ) from exc


def journal_lock_grace(heartbeat_interval: int | None, grace_period: int | None) -> int:
    """Seconds after which a journal's write lock, held unchanged, is broken as dead.

    A worker SIGKILLed while it appends to the journal leaves the lock file behind; every other
    worker then waits for it, heartbeats included. A dead owner on this host is seen at once
    (:class:`~hwprune.journal_lock.OwnedSymlinkLock`); an owner on another host is judged by
    the lock's age. With Optuna's fixed 30 s, a grace period of under about 30 s would see each
    *live* trial's heartbeat stall past it, and the first worker to look would fail them all
    along with the dead one. So the lock is broken after half of what the grace period leaves
    beyond one heartbeat interval (3 s at least, Optuna's floor for a safe lock; 30 s at most,
    its default). An append takes milliseconds; a writer stalled
    longer than the result (a very slow shared file system) would have its lock broken, so use
    long heartbeats there (the defaults, 30 s and 120 s, keep Optuna's 30 s).

    Example:
        >>> journal_lock_grace(30, 120), journal_lock_grace(1, 10), journal_lock_grace(None, None)
        (30, 4, 30)
    """
    if heartbeat_interval is None:
        return 30
    grace = grace_period or 2 * heartbeat_interval
    return int(min(30, max(3, (grace - heartbeat_interval) // 2)))


class AtomicClaimRDBStorage(RDBStorage):
    """Optuna's RDB storage whose claim of a queued (WAITING) trial is one conditional UPDATE.

    Optuna pops a queued trial by reading its state and then writing RUNNING. Its ``SELECT ...
    FOR UPDATE`` makes that atomic on PostgreSQL and MySQL, but SQLite ignores ``FOR UPDATE``
    and its Python driver opens the write transaction only at the UPDATE, so two processes could
    both read WAITING and both "win" the same trial (one of them later crashes with
    ``UpdateFinishedTrialError``). Here the claim is ``UPDATE trials SET state = RUNNING WHERE
    trial_id = ? AND state = WAITING``: the database serialises the two writes and exactly one
    sees a changed row, on every SQL database.

    Example:
        >>> import tempfile, optuna
        >>> st = AtomicClaimRDBStorage(f"sqlite:///{tempfile.mkdtemp()}/s.db")
        >>> study = optuna.create_study(storage=st)
        >>> study.enqueue_trial({"x": 1.0})
        >>> tid = study._pop_waiting_trial_id()
        >>> st.set_trial_state_values(tid, optuna.trial.TrialState.RUNNING)  # already claimed
        False
    """

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        """Set a trial's state; a WAITING -> RUNNING claim succeeds for one caller only."""
        if state != TrialState.RUNNING or values is not None:
            return super().set_trial_state_values(trial_id, state, values)
        import sqlalchemy
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        now = datetime.now(timezone.utc).replace(tzinfo=None)  # Optuna stores naive UTC
        with _create_scoped_session(self.scoped_session) as session:
            claimed = session.execute(
                sqlalchemy.update(models.TrialModel)
                .where(
                    models.TrialModel.trial_id == trial_id,
                    models.TrialModel.state == TrialState.WAITING,
                )
                .values(state=TrialState.RUNNING, datetime_start=now)
                .execution_options(synchronize_session=False)
            ).rowcount
        if claimed == 1:
            return True
        # someone else claimed it: RUNNING -> False, finished -> UpdateFinishedTrialError
        self.check_trial_is_updatable(trial_id, self.get_trial(trial_id).state)
        return False

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Optuna's stale trials, plus RUNNING trials that never beat and started longer than
        the grace period ago (their worker died between claiming them and the first beat;
        Optuna leaves those RUNNING forever, and the budget's other workers wait on them)."""
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
        from sqlalchemy import orm

        stale = list(super()._get_stale_trial_ids(study_id))
        assert self.heartbeat_interval is not None
        grace = self.grace_period or 2 * self.heartbeat_interval
        now = datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC, as stored
        with _create_scoped_session(self.scoped_session, True) as session:
            running = (
                session.query(models.TrialModel)
                .options(orm.selectinload(models.TrialModel.heartbeats))
                .filter(models.TrialModel.state == TrialState.RUNNING)
                .filter(models.TrialModel.study_id == study_id)
                .all()
            )
            for trial in running:
                started = trial._datetime_start_utc
                if trial.heartbeats or started is None or trial.trial_id in stale:
                    continue
                if (now - started).total_seconds() > grace:
                    stale.append(trial.trial_id)
        return stale


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """Optuna's journal storage with the heartbeat protocol of its RDB storage.

    ``record_heartbeat`` appends one ``hwprune:heartbeat`` system attribute (the writer's Unix
    time) to the journal; ``_get_stale_trial_ids`` returns the RUNNING trials whose last
    heartbeat is older than ``grace_period`` by this machine's clock; a trial that never
    recorded a heartbeat counts from its start (its worker died before the first beat).
    Optuna's ``study.optimize`` drives it exactly like an RDB storage with heartbeats: it fails
    stale trials before each new trial (running the stale-trial callback, which re-queues
    them) and beats while a trial runs.

    Example:
        >>> import tempfile
        >>> from optuna.storages.journal import JournalFileBackend
        >>> st = HeartbeatJournalStorage(JournalFileBackend(tempfile.mktemp(suffix=".log")),
        ...                              heartbeat_interval=10, grace_period=30)
        >>> st.get_heartbeat_interval()
        10
    """

    def __init__(
        self,
        log_storage: BaseJournalBackend,
        *,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
        heartbeat_stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    ) -> None:
        super().__init__(log_storage)
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.heartbeat_stale_trial_callback = heartbeat_stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        """Append this trial's heartbeat (now, Unix time) to the journal."""
        try:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except UpdateFinishedTrialError:
            logger.warning(
                "trial id %d was already finished by another worker (heartbeats arrived too "
                "late?); its result will be discarded",
                trial_id,
            )
        except Exception as exc:  # a shared file system hiccup must not kill the trial
            logger.warning("could not record a heartbeat for trial id %d: %s", trial_id, exc)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        assert self.heartbeat_interval is not None
        grace = self.grace_period or 2 * self.heartbeat_interval
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(HEARTBEAT_ATTR)
            if beat is None and trial.datetime_start is not None:
                # a live worker beats within heartbeat_interval of the start; one killed before
                # its first beat would otherwise stay RUNNING forever (and its budget with it)
                beat = trial.datetime_start.timestamp()  # naive local time, as Optuna gives
            if beat is not None and now - float(beat) > grace:
                stale.append(trial._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        """Seconds between heartbeats, or ``None`` when heartbeats are off."""
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(
        self,
    ) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        """The callback run on each trial failed for missing heartbeats (re-queues it)."""
        return self.heartbeat_stale_trial_callback
