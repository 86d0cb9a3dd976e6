"""Files a shared search writes, and the recipes of integrations/, keep secrets to their owner.

``search.pt`` holds the whole preprocessed training set and ``trial_<n>.pt`` the trained
networks: group-readable at most (the workers of a shared search run as one user or group),
never world-readable. The compose file has no default password, keeps it out of URLs and
command lines and publishes nothing beyond the host's loopback; the image runs as a non-root
user; ``postgres_mlflow.sh`` writes its env file (with the password) 0600.
"""

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from automl_nas import AutoNASClassifier

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_shared_search_writes_no_world_readable_file(tmp_path):
    X, y = load_iris(return_X_y=True)
    artifacts = tmp_path / "artifacts"
    old = os.umask(0o022)  # the usual umask, which alone would give 0o644 files
    try:
        AutoNASClassifier(
            n_trials=1,
            max_epochs=2,
            storage=f"sqlite:///{tmp_path / 'search.db'}",
            study_name="s",
            artifact_dir=artifacts,
            random_state=0,
        ).fit(X, y)
    finally:
        os.umask(old)
    files = sorted((artifacts / "s").iterdir())
    names = [f.name for f in files]
    assert "search.pt" in names and any(re.fullmatch(r"trial_\d+\.pt", n) for n in names)
    for path in files:
        assert _mode(path) == 0o640, f"{path.name}: {oct(_mode(path))}"
    assert _mode(artifacts) == 0o750 and _mode(artifacts / "s") == 0o750


def test_a_stricter_umask_makes_the_files_stricter(tmp_path):
    from automl_nas.search import SearchSpec

    X, y = load_iris(return_X_y=True)
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    AutoNASClassifier(
        n_trials=1, max_epochs=2, storage=storage, study_name="s", artifact_dir=tmp_path / "a"
    ).fit(X, y)
    spec = SearchSpec.load(tmp_path / "a" / "s" / "search.pt")
    old = os.umask(0o077)
    try:
        spec.save(str(tmp_path / "copy.pt"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "copy.pt") == 0o600


def _compose():
    text = (INTEGRATIONS / "docker-compose.yml").read_text()
    yaml = pytest.importorskip("yaml")
    return text, yaml.safe_load(text)


def test_compose_has_no_default_password_and_no_password_in_urls_or_commands():
    text, compose = _compose()
    assert ":-automl}" not in text and "POSTGRES_PASSWORD:-" not in text
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == (
        "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    )
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            # user@host, never user:password@host in a URL
            assert not re.search(r"://[^/@:]+:[^/@]+@", str(value)), (name, key)
        command = service.get("command") or []
        command = " ".join(command) if isinstance(command, list) else command
        assert "PASSWORD" not in command and not re.search(r"://[^/@:]+:[^/@]+@", command), name
        if name != "postgres":
            assert environment.get("PGPASSWORD") == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"


def test_compose_publishes_only_on_loopback_and_mlflow_not_on_all_interfaces():
    _, compose = _compose()
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    mlflow = compose["services"]["mlflow"]
    command = " ".join(mlflow["command"])
    assert "0.0.0.0" not in command and "--host=" in command
    assert "--backend-store-uri" not in command
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"].endswith("@postgres:5432/mlflow")


def test_the_image_runs_as_a_non_root_user_with_the_cpu_torch():
    lines = (INTEGRATIONS / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    torch = next(line for line in lines if line.startswith("ARG TORCH="))
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch


def test_postgres_mlflow_sh_parses_and_writes_its_env_file_0600():
    script = INTEGRATIONS / "postgres_mlflow.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    before_write = text[: text.index('>"$DIR/env.tmp"')]
    assert "umask 077" in before_write[before_write.rindex("(") :]
    assert 'chmod 600 "$DIR/env.tmp"' in text
    # the MLflow server's URL (on start_server.sh's command line) holds no password
    assert 'PGPASSWORD="${USERINFO#*:}"' in text
