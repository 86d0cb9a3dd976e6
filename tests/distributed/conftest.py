"""Shared Optuna storages for the distributed tests: real PostgreSQL, SQLite and journal files.

Every fixture yields a storage *string* that separate processes can open on their own, so one
test can run on all three by name::

    @pytest.mark.parametrize("backend", ["sqlite_url", "journal_storage", "postgres_url"])
    def test_x(backend, request):
        storage = request.getfixturevalue(backend)

- ``postgres_url`` (session; defined in ``tests/conftest.py``, which ``tests/security`` shares):
  ``postgresql+psycopg2://automl:PW@127.0.0.1:PORT/automl`` of a server started once per session
  by integrations/postgres/local_postgres.py and stopped (by PID, directory deleted) at the end.
  Skipped only when PostgreSQL is missing and we are not root to install it; as root (CI) it
  always runs. Tests share its database: give each study a unique name.
- ``sqlite_url``: ``sqlite:///TMP/optuna.db`` (file not created yet).
- ``journal_storage``: ``journal:TMP/optuna.log``, the journal-file form ``automl_nas`` accepts;
  in Python, ``JournalStorage(JournalFileBackend(path))`` with the part after ``journal:``.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'optuna.db'}"


@pytest.fixture
def journal_storage(tmp_path) -> str:
    """``journal:PATH`` of a journal file in the test's temporary directory."""
    return f"journal:{tmp_path / 'optuna.log'}"
