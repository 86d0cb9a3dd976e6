"""Fixtures for the tracking tests: real `mlflow server` processes and small datasets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

REPO = Path(__file__).resolve().parents[2]
START_SERVER = REPO / "mlflow" / "start_server.sh"

#: A search small enough for tests: a few trials of a few epochs.
TINY = {"n_trials": 4, "max_epochs": 3, "time_budget": 120, "random_state": 0}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie left for a non-reaping init counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@dataclass
class Server:
    """A running `mlflow server` started by mlflow/start_server.sh."""

    directory: Path
    port: int
    process: subprocess.Popen | None = None  # the start script, while it waits for readiness
    pid: int | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend_uri(self) -> str:
        return f"sqlite:///{self.directory / 'mlflow.db'}"

    def wait_ready(self, timeout: float = 180) -> Server:
        out, _ = self.process.communicate(timeout=timeout)
        pid_file = self.directory / "server.pid"
        self.pid = int(pid_file.read_text()) if pid_file.exists() else None
        if self.process.returncode != 0:
            self.stop()
            pytest.fail(f"mlflow server did not start:\n{out}")
        return self

    def stop(self) -> None:
        """SIGTERM the server's process group (its PID), SIGKILL if it lingers."""
        if self.pid is None or not pid_alive(self.pid):
            return
        os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while pid_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(self.pid):
            os.killpg(self.pid, signal.SIGKILL)


def launch_server(directory: Path) -> Server:
    """Start mlflow/start_server.sh in the background; call ``wait_ready`` before use."""
    port = free_port()
    env = dict(os.environ, MLFLOW_BIN=str(Path(sys.executable).with_name("mlflow")))
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        ["bash", str(START_SERVER), str(directory), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    return Server(directory=directory, port=port, process=process)


@pytest.fixture(scope="module")
def _module_server(tmp_path_factory):
    """One real tracking server per test module (starting one takes 10-40 s on 2 cores)."""
    holder = {"server": launch_server(tmp_path_factory.mktemp("server")).wait_ready()}
    yield holder
    holder["server"].stop()


@pytest.fixture
def server(_module_server, tmp_path_factory) -> Server:
    """The module's server, started afresh if a test before this one stopped it."""
    current = _module_server["server"]
    if current.pid is None or not pid_alive(current.pid):
        current = _module_server["server"] = launch_server(
            tmp_path_factory.mktemp("server")
        ).wait_ready()
    return current


@pytest.fixture
def clean_mlflow_env(monkeypatch, tmp_path):
    """No tracking URI or experiment from the environment; the working directory is tmp_path."""
    import mlflow

    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(var, raising=False)
    mlflow.set_tracking_uri(None)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return X[:200], y[:200]
