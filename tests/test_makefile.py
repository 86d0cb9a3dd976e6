"""The Makefile's set-up: the torch build it picks, and ``make clean`` back to the tree as cloned.

Both run the real recipes with make in a temporary folder; pip is replaced by ``echo`` so that
nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git"
)


def _make(folder: Path, *args: str, path: str | None = None) -> str:
    env = dict(os.environ, PATH=path or os.environ["PATH"])
    env.pop("MAKEFLAGS", None)
    result = subprocess.run(
        ["make", "-s", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return result.stdout


def _fake_nvidia_smi(folder: Path, gpu: bool) -> str:
    """A PATH whose ``nvidia-smi`` lists a GPU (exit 0) or none (exit 9), then the usual PATH."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\nexit {0 if gpu else 9}\n")
    tool.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def _git_status(tree) -> str:
    """``git status --porcelain --ignored`` of ``tree``: ignored paths start with ``!!``."""
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.parametrize(
    ("gpu", "index_answers", "pip_args", "says"),
    [
        (True, False, "install torch==2.13.0", "the CUDA build"),
        (
            False,
            True,
            "install torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu",
            "the CPU build",
        ),
        (False, False, "install torch==2.13.0", "does not answer"),
    ],
    ids=["gpu", "no-gpu", "no-gpu-index-unreachable"],
)
def test_torch_build_follows_the_machine(tmp_path, gpu, index_answers, pip_args, says):
    shutil.copy(REPO / "Makefile", tmp_path)
    path = _fake_nvidia_smi(tmp_path, gpu)
    # PY runs the index probe: `true` answers, `false` does not.
    probe = "true" if index_answers else "false"
    out = _make(tmp_path, "install-torch", "PIP=echo pip", f"PY={probe}", path=path)
    lines = out.strip().splitlines()
    assert says in lines[0]
    assert lines[-1] == f"pip {pip_args}"


def test_torch_build_can_be_chosen(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path)
    path = _fake_nvidia_smi(tmp_path, gpu=False)
    out = _make(tmp_path, "install-torch", "TORCH=cuda", "PIP=echo pip", path=path)
    assert out.strip().splitlines()[-1] == "pip install torch==2.13.0"
    out = _make(tmp_path, "install-torch", "TORCH=torch==2.9.1 -i URL", "PIP=echo pip")
    assert out.strip().splitlines()[-1] == "pip install torch==2.9.1 -i URL"


def _sample(pattern: str) -> Path:
    """A path that the .gitignore ``pattern`` ignores (``*`` becomes a name)."""
    return Path(pattern.strip("/").replace("*", "sample"))


def test_make_clean_removes_everything_gitignore_lists(tmp_path):
    for name in ("Makefile", ".gitignore"):
        shutil.copy(REPO / name, tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    kept = [tmp_path / "automl_nas" / "cli.py", tmp_path / "README.md"]
    patterns = [
        line.strip()
        for line in (REPO / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [p for p in patterns if p.startswith("!")], "negated patterns: extend this test"
    for pattern in patterns:
        places = [tmp_path]
        if "/" not in pattern.rstrip("/"):  # unanchored: it matches in subfolders too
            places.append(tmp_path / "automl_nas" / "sub")
        for place in places:
            sample = place / _sample(pattern)
            if pattern.endswith("/"):
                (sample / "inner").mkdir(parents=True, exist_ok=True)
                (sample / "inner" / "file").write_text("x")
            else:
                sample.parent.mkdir(parents=True, exist_ok=True)
                sample.write_text("x")
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("kept")

    assert _git_status(tmp_path).count("!! ") >= len(patterns)  # each sample is ignored (the test is sound)

    _make(tmp_path, "clean")

    assert [line for line in _git_status(tmp_path).splitlines() if line.startswith("!!")] == []
    assert all(path.read_text() == "kept" for path in kept)
