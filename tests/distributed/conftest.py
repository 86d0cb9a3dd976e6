"""Shared Optuna storages for the distributed tests: real PostgreSQL, SQLite and journal files.

Every fixture yields a storage *string* that separate processes can open on their own, so one
test can run on all three by name::

    @pytest.mark.parametrize("backend", ["sqlite_url", "journal_storage", "postgres_url"])
    def test_x(backend, request):
        storage = request.getfixturevalue(backend)

- ``postgres_url`` (session): ``postgresql+psycopg2://automl:PW@127.0.0.1:PORT/automl`` of a
  server started once per session by integrations/postgres/local_postgres.py and stopped (by
  PID, directory deleted) at the end. Skipped only when PostgreSQL is missing and we are not
  root to install it; as root (CI) it always runs. Tests share its database: give each study a
  unique name.
- ``sqlite_url``: ``sqlite:///TMP/optuna.db`` (file not created yet).
- ``journal_storage``: ``journal:TMP/optuna.log``, the journal-file form ``automl_nas`` accepts;
  in Python, ``JournalStorage(JournalFileBackend(path))`` with the part after ``journal:``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_launcher():
    """integrations/postgres/local_postgres.py as a module (integrations/ is not a package)."""
    path = REPO / "integrations" / "postgres" / "local_postgres.py"
    spec = importlib.util.spec_from_file_location("local_postgres", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


local_postgres = _load_launcher()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[local_postgres.LocalPostgres]:
    """One real PostgreSQL server on 127.0.0.1 for the whole session."""
    try:
        server = local_postgres.start_postgres()
    except local_postgres.PostgresUnavailable as why:
        print(f"\nskipping PostgreSQL tests: {why}", file=sys.stderr)
        pytest.skip(str(why))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """SQLAlchemy URL of the session's PostgreSQL database (studies of all tests share it)."""
    return postgres_server.url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'optuna.db'}"


@pytest.fixture
def journal_storage(tmp_path) -> str:
    """``journal:PATH`` of a journal file in the test's temporary directory."""
    return f"journal:{tmp_path / 'optuna.log'}"
