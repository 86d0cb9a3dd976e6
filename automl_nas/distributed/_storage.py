"""Optuna storages from a URL: heartbeats and a retry on RDB, a file lock on journals."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend

from automl_nas.masking import MASK, mask_uri

#: Seconds between a running trial's heartbeats, and without one before it counts as dead.
HEARTBEAT_INTERVAL = 5
GRACE_PERIOD = 20

#: Prefix of a journal-file storage "URL": ``journal:PATH``.
JOURNAL_PREFIX = "journal:"


def make_storage(
    storage: str | BaseStorage | None,
    *,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = GRACE_PERIOD,
) -> BaseStorage | None:
    """The Optuna storage for ``storage``: None (in memory), a storage object, or a URL.

    - ``sqlite:///search.db``, ``postgresql://user:pw@host/db``, ``mysql://...``: an
      ``RDBStorage`` whose running trials send a heartbeat every ``heartbeat_interval``
      seconds. A trial silent for ``grace_period`` seconds (its process was killed) is marked
      FAIL by the next process that starts a trial, and retried once as a new WAITING trial
      with the same params (``RetryHeartbeatStaleTrialCallback``).
    - ``journal:PATH``: a ``JournalStorage`` on an append-only file, for processes on one
      machine (or a file system with working locks). Optuna's journal storage has no
      heartbeat: a killed process's trial stays RUNNING.

    Storage objects are used as given, so their own heartbeat settings apply. No error raised
    here quotes a password: URLs in messages are masked (:func:`~automl_nas.masking.mask_uri`),
    and so is an error of the database driver that would quote one. To keep the password out of
    the URL altogether, PostgreSQL takes it from libpq's ``PGPASSWORD`` or ``~/.pgpass``.
    """
    if storage is None or isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, str):
        raise TypeError(f"storage must be a URL string or an optuna storage, got {type(storage).__name__}")
    if storage.startswith(JOURNAL_PREFIX):
        path = storage[len(JOURNAL_PREFIX):]
        if not path:
            raise ValueError("journal storage needs a file path: 'journal:./search.log'")
        return JournalStorage(JournalFileBackend(path))
    if "://" not in storage:
        raise ValueError(
            f"storage {_shown(storage)!r} is not a database URL (sqlite:///search.db, "
            "postgresql://user:pw@host/db) nor a journal file (journal:./search.log)"
        )
    _check_sqlite_path(storage)
    try:
        try:
            return _rdb_storage(storage, heartbeat_interval, grace_period)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            # Processes opening a new database at once race to create its tables ("already
            # exists", a unique violation); the loser finds them made a moment later.
            time.sleep(0.5)
            return _rdb_storage(storage, heartbeat_interval, grace_period)
    except Exception as exc:
        problem = _sqlite_problem(storage) if isinstance(exc, sqlalchemy.exc.OperationalError) else None
        if problem is not None:
            raise ValueError(f"cannot open storage {_shown(storage)}: {problem}") from exc
        if not _quotes_secret(exc, storage):
            raise
        raise ValueError(
            f"cannot open storage {mask_uri(storage)}: {type(exc).__name__}: "
            f"{_masked(str(exc), storage)}"
        ) from None


def _sqlite_path(url: str) -> str | None:
    """The database file of a ``sqlite:///`` URL (None: another database, or in memory)."""
    if not url.startswith("sqlite"):
        return None
    try:
        database = sqlalchemy.engine.make_url(url).database
    except Exception:  # noqa: BLE001 - SQLAlchemy's own error comes with the connection
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database)


def _sqlite_problem(url: str) -> str | None:
    """Why SQLite cannot open or write the file of ``url``, naming the path; None if unknown."""
    path = _sqlite_path(url)
    if path is None:
        return None
    directory = os.path.dirname(path)
    fix = "pass a sqlite:/// URL to a file in a directory this process can write"
    if not os.path.isdir(directory):
        return f"the directory {directory} of the SQLite file does not exist ({fix})"
    if os.path.isdir(path):
        return f"{path} is a directory, not an SQLite file ({fix})"
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        return f"the SQLite file {path} is read-only for this process ({fix}, or make it writable)"
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"the directory {directory} of the SQLite file is not writable by this process "
            f"(SQLite creates its file and journal there; {fix})"
        )
    return None


def _check_sqlite_path(url: str) -> None:
    """Refuse a SQLite file this process cannot write before Optuna meets it mid-search."""
    path = _sqlite_path(url)
    if path is not None and os.path.exists(path):
        problem = _sqlite_problem(url)
        if problem is not None:
            raise ValueError(f"cannot open storage {_shown(url)}: {problem}")


def _rdb_storage(url: str, heartbeat_interval: int, grace_period: int) -> RDBStorage:
    sqlite = url.startswith("sqlite")
    engine_kwargs = {"connect_args": {"timeout": 60}} if sqlite else None
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )
    if sqlite:
        _serialize_sqlite_transactions(storage.engine)
    return storage


def _serialize_sqlite_transactions(engine: sqlalchemy.engine.Engine) -> None:
    """Make every transaction on ``engine`` take SQLite's write lock when it begins.

    Optuna hands a WAITING (enqueued) trial to one process by reading its state and setting it
    RUNNING in one transaction, with ``SELECT ... FOR UPDATE``. SQLite has no row locks, and
    Python's sqlite3 driver opens a transaction only at the first write, so two processes both
    read WAITING, both set RUNNING and both run the trial; the second to finish fails with
    "Cannot tell a COMPLETE trial" (the start portfolio enqueues several trials, so workers
    meet this at once). ``BEGIN IMMEDIATE`` at the start of each transaction serialises them,
    as SQLAlchemy's pysqlite documentation recommends for real transactions; the driver's own
    transaction handling is switched off so it does not interfere. Connections made while
    Optuna created the schema are dropped so every later one gets this setting.
    """

    @sqlalchemy.event.listens_for(engine, "connect")
    def _driver_leaves_transactions_alone(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_with_the_write_lock(connection: sqlalchemy.engine.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()


def _secrets(url: str) -> list[str]:
    """The password of ``url`` as SQLAlchemy reads it (an empty list when there is none)."""
    try:
        password = sqlalchemy.engine.make_url(url).password
    except Exception:  # noqa: BLE001 - an unparsable URL has no password SQLAlchemy would send
        return []
    return [str(password)] if password else []


def _masked(text: str, url: str) -> str:
    """``text`` with URLs masked and ``url``'s password hidden wherever it appears alone (when
    it is long enough not to be part of ordinary words)."""
    text = mask_uri(text)
    for secret in _secrets(url):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def _quotes_secret(exc: BaseException, url: str) -> bool:
    """Whether ``exc`` or an exception it was raised from quotes a credential."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = " ".join(map(str, (exc, *exc.args)))
        if _masked(text, url) != text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _shown(url: str) -> str:
    """``url`` fit for an error message: masked, also when a missing slash hides its password
    from :func:`mask_uri` (``postgresql:/user:pw@host/db``)."""
    if "://" not in url and "@" in url:
        return url.split(":", 1)[0] + ":***@" + url.rsplit("@", 1)[1]
    return mask_uri(url)


def is_shared(storage: BaseStorage | None) -> bool:
    """Whether other processes can reach ``storage`` (anything but memory)."""
    return storage is not None and not isinstance(storage, optuna.storages.InMemoryStorage)
