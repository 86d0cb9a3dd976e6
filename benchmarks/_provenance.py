"""What every benchmark records beside its figures: the CPU model and the automl_nas commit."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version() -> str:
    """The commit of the automl_nas measured (``+dirty`` with uncommitted package changes)."""
    import automl_nas

    root = Path(automl_nas.__file__).resolve().parents[1]

    def git(*cmd: str) -> str:
        out = subprocess.run(["git", "-C", str(root), *cmd], capture_output=True, text=True)
        return out.stdout.strip()

    dirty = "+dirty" if git("status", "--porcelain", "--", "automl_nas") else ""
    return f"{git('rev-parse', '--short', 'HEAD')}{dirty} ({root})"
