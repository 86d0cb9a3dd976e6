#!/usr/bin/env python3
"""A throwaway PostgreSQL server on 127.0.0.1: a shared Optuna (or MLflow) storage for one machine.

Starts ``postgres`` from a fresh data directory on a free port, listening on 127.0.0.1 only,
creates a password-protected user owning one or more databases, and gives the SQLAlchemy URL. Stopping it
signals the server's PID (from ``postmaster.pid``) and deletes the directory: nothing outlives
the search or the test run. PostgreSQL is installed with ``apt-get`` when ``initdb``/``pg_ctl``
are missing and we are root. Postgres refuses to run as root, so as root the server runs as the
``postgres`` user (created if absent); otherwise as the current user.

Durability is switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``) and the data
lives in /dev/shm by default: it is deleted at stop anyway, and commits cost a fraction. Standard
library only, so it runs with any Python 3.10+.

As a script::

    python integrations/postgres/local_postgres.py start [--dir DIR] [--port PORT]
    # prints the URL on stdout (also written to DIR/url), e.g.
    # postgresql+psycopg2://automl:3f2a...@127.0.0.1:41234/automl
    python integrations/postgres/local_postgres.py stop DIR

From Python (the test fixture ``postgres_url`` does this)::

    with running_postgres() as server:
        optuna.create_study(storage=server.url)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The account the server runs as when we are root (postgres refuses to run as root).
SERVER_USER = "postgres"
#: Superuser created by initdb; it can log in only through the private Unix socket.
SUPERUSER = "postgres"
#: Local (socket) logins are trusted: the socket sits in the server's private 0700 directory.
INITDB_OPTIONS = (
    "--encoding=UTF8",
    "--locale=C",
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "--no-sync",
    "--no-instructions",
)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PASSWORD = re.compile(r"[A-Za-z0-9_.~-]{1,100}")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed and cannot be installed here (not root, or no apt-get)."""


@dataclass(frozen=True)
class LocalPostgres:
    """A running server started by :func:`start_postgres`; ``directory`` holds all its state."""

    directory: Path
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        """SQLAlchemy URL of ``database`` (psycopg2 driver), usable as an Optuna storage."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of another database of this server (e.g. one made by ``extra_databases``)."""
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID, read from ``postmaster.pid`` (None once it is gone)."""
        return read_pid(self.directory)

    def stop(self) -> None:
        """Stop the server by its PID and delete its directory."""
        stop_postgres(self.directory)


def find_bindir() -> Path | None:
    """The directory with ``initdb``, ``pg_ctl`` and ``postgres`` of a real PostgreSQL, or None.

    Debian keeps them in /usr/lib/postgresql/<version>/bin (newest version wins); other systems
    put them on PATH. A candidate counts only if its ``pg_ctl --version`` says PostgreSQL, so a
    stray script of the same name is not taken for the server.
    """
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: [int(p) for p in re.findall(r"\d+", Path(d).parent.name)],
        reverse=True,
    )
    on_path = [str(Path(p).resolve().parent) for p in filter(None, [shutil.which("pg_ctl")])]
    for candidate in map(Path, debian + on_path):
        if not all((candidate / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            continue
        version = subprocess.run(
            [str(candidate / "pg_ctl"), "--version"], capture_output=True, text=True, check=False
        )
        if version.returncode == 0 and "PostgreSQL" in version.stdout:
            return candidate
    return None


def ensure_installed() -> Path:
    """The PostgreSQL bin directory, installing the Debian package first if it is missing.

    Raises:
        PostgresUnavailable: not installed, and we are not root or there is no apt-get.
        subprocess.CalledProcessError: apt-get failed (as root this is an error, not a skip).
    """
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0:
        raise PostgresUnavailable(
            "PostgreSQL (initdb, pg_ctl) is not installed and installing it needs root: "
            "run `apt-get install -y postgresql` as root"
        )
    if shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "PostgreSQL is not installed and there is no apt-get to install it"
        )
    # Several processes may start servers at once (pytest-xdist's workers, one fixture each):
    # the first installs, the others wait for it on this lock, then find the binaries.
    # apt-get's own lock would fail them at once instead of waiting.
    with open(Path(tempfile.gettempdir()) / "automl-nas-pg-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        bindir = find_bindir()
        if bindir is not None:
            return bindir
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300"]  # wait for another apt user's lock
        install = [*apt, "install", "-y", "-q", "--no-install-recommends", "postgresql"]
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode:
            # A fresh machine may have no package lists yet.
            subprocess.run([*apt, "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
            subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=True)
        bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("apt-get installed postgresql but no initdb/pg_ctl/postgres was found")
    return bindir


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_pid(directory: Path) -> int | None:
    """The PID in ``directory/data/postmaster.pid`` if that process still runs, else None."""
    try:
        pid = int((Path(directory) / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (left by an init that does not reap) counts as dead."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _memory_dir(min_free: int = 512 * 2**20) -> str | None:
    """/dev/shm when it is a writable tmpfs with room: the throwaway data never touches the disk
    (deleting its ~1,400 files took 3-4 s on a busy disk mounted with ``discard``)."""
    shm = "/dev/shm"
    if not (os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK)):
        return None
    stats = os.statvfs(shm)
    return shm if stats.f_bavail * stats.f_frsize >= min_free else None


def _server_account() -> str | None:
    """The user to run the server as (None: ourselves), created when we are root and it is absent."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", SERVER_USER], check=True
        )
    return SERVER_USER


def _run(cmd: list[str], account: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` as ``account`` (via runuser) from ``cwd``; raise with its output on failure."""
    full = ["runuser", "-u", account, "--", *cmd] if account else cmd
    result = subprocess.run(full, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result


def start_postgres(
    directory: str | Path | None = None,
    *,
    port: int | None = None,
    user: str = "automl",
    password: str | None = None,
    database: str = "automl",
    extra_databases: tuple[str, ...] = (),
    timeout: float = 60,
) -> LocalPostgres:
    """Start a server with a fresh data directory under ``directory`` and create ``database``.

    Args:
        directory: Empty or missing directory for the data, socket and log (default: a new
            one in /dev/shm, else in the temporary directory). When running as root, the ``postgres`` user must be able to reach it,
            so prefer a path under /tmp; keep it short (the Unix socket path limit is 107 bytes).
        port: TCP port on 127.0.0.1 (default: a free one).
        user, password, database: The login and database to create (password default: random).
        extra_databases: More databases owned by ``user``: Optuna and MLflow each need their own,
            as both keep an ``alembic_version`` table.
        timeout: Seconds to wait for the server to accept connections.

    Returns:
        The running server; call ``stop()`` (or use :func:`running_postgres`).
    """
    password = password or secrets.token_hex(16)
    names = [user, database, *extra_databases]
    if not all(_NAME.fullmatch(name) for name in names):
        raise ValueError(f"user and database names {names} must match {_NAME.pattern}")
    if not _PASSWORD.fullmatch(password):
        raise ValueError(f"the password must match {_PASSWORD.pattern} (it goes into a URL)")
    bindir = ensure_installed()
    account = _server_account()
    if directory is None:
        base = Path(tempfile.mkdtemp(prefix="automl-nas-pg-", dir=_memory_dir()))
    else:
        base = Path(directory).resolve()
        if base.exists() and any(base.iterdir()):
            raise FileExistsError(f"{base} is not empty: give a new or empty directory")
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
    port = port or free_port()
    server = LocalPostgres(base, port, user, password, database)
    try:
        if account:
            shutil.chown(base, account, account)
            probe = ["runuser", "-u", account, "--", "test", "-w", str(base)]
            if subprocess.run(probe, check=False).returncode:
                raise PermissionError(
                    f"user {account} cannot reach {base}: choose a directory under /tmp"
                )
        data = base / "data"
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, *INITDB_OPTIONS]
        _run(initdb, account, base)
        # Only 127.0.0.1 over TCP; the trusted Unix socket sits in the private (0700) directory.
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                f"unix_socket_directories = '{base}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        log = base / "postgres.log"
        pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "start"]
        _run([*pg_ctl, "-t", str(int(timeout))], account, base)
        _wait_ready(bindir, port, timeout)
        psql = [str(bindir / "psql"), "-h", str(base), "-p", str(port), "-U", SUPERUSER]
        psql += ["-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]
        sql = [f"CREATE ROLE {user} LOGIN PASSWORD '{password}'"]
        sql += [f"CREATE DATABASE {name} OWNER {user}" for name in (database, *extra_databases)]
        _run([*psql, *(arg for command in sql for arg in ("-c", command))], account, base)
        (base / "url").write_text(server.url + "\n")
    except BaseException:
        with contextlib.suppress(Exception):
            print((base / "postgres.log").read_text()[-3000:], file=sys.stderr)
        stop_postgres(base)
        raise
    return server


def _wait_ready(bindir: Path, port: int, timeout: float) -> None:
    """Poll ``pg_isready`` over TCP until the server accepts connections on 127.0.0.1:port."""
    isready = bindir / "pg_isready"
    cmd = [
        str(isready) if isready.exists() else "pg_isready",
        "-q",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    deadline = time.monotonic() + timeout
    while subprocess.run(cmd, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL did not accept connections on 127.0.0.1:{port}")
        time.sleep(0.2)


def stop_postgres(directory: str | Path, timeout: float = 20) -> None:
    """Stop the server whose state is in ``directory`` by its PID, then delete ``directory``.

    SIGINT is postgres' fast shutdown (abort sessions, write a checkpoint); SIGQUIT, then
    SIGKILL, follow if it is still running after ``timeout`` seconds.
    """
    directory = Path(directory)
    pid = read_pid(directory)
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5), (signal.SIGKILL, 5)):
        if pid is None or not _alive(pid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def running_postgres(**kwargs) -> Iterator[LocalPostgres]:
    """:func:`start_postgres` as a context manager: the server is stopped and deleted on exit."""
    server = start_postgres(**kwargs)
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """``start`` prints the URL and leaves the server running; ``stop DIR`` ends it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a server; print its SQLAlchemy URL")
    start.add_argument("--dir", help="new or empty directory for its state (default: a temp dir)")
    start.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (default: a free one)")
    start.add_argument("--user", default="automl")
    start.add_argument("--password", help="default: random")
    start.add_argument("--database", default="automl", help="the database of the printed URL")
    start.add_argument(
        "--extra-database", action="append", default=[], help="another database (repeatable)"
    )
    stop = commands.add_parser("stop", help="stop the server started in DIR and delete DIR")
    stop.add_argument("dir")
    args = parser.parse_args(argv)
    if args.command == "stop":
        if read_pid(Path(args.dir)) is None:
            print(f"no running PostgreSQL in {args.dir}", file=sys.stderr)
        stop_postgres(args.dir)
        return 0
    server = start_postgres(
        args.dir,
        port=args.port,
        user=args.user,
        password=args.password,
        database=args.database,
        extra_databases=tuple(args.extra_database),
    )
    print(
        f"PostgreSQL ready on 127.0.0.1:{server.port} (pid {server.pid}); stop it with:\n"
        f"  python {sys.argv[0]} stop {server.directory}",
        file=sys.stderr,
    )
    print(server.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
