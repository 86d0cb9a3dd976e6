"""Run a command on which file modes bind, also when the tests run as root.

Root writes into a read-only file or directory: ``chmod`` alone cannot make the faults
"read-only store" or "read-only artifact directory" happen. Switching to another user is not
always possible either: the interpreter may live where no other user can reach it (here under
``/root``, mode 0700). So a root test runs the command under ``setpriv`` without the
capabilities that let root ignore file modes (``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``,
``CAP_FOWNER``, dropped from its bounding set so that ``exec`` does not grant them back): the
process keeps uid 0 and its files, and the kernel checks modes for it as for any other owner
(``os.access`` answers the same). A test skips, saying why, only where that cannot be done.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

#: The prefix that runs a command as root without the capabilities that bypass file modes.
DROP_FILE_CAPABILITIES = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search,-fowner",
    "--",
]


@functools.cache
def _cannot_drop() -> str | None:
    """Why a root process cannot be made to obey file modes here; None when it can."""
    if shutil.which("setpriv") is None:
        return "running as root and setpriv (util-linux) is not installed"
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp, "read-only")
        target.write_text("")
        target.chmod(0o444)
        probe = subprocess.run(
            [*DROP_FILE_CAPABILITIES, sys.executable, "-c", f"open({str(target)!r}, 'a')"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if probe.returncode == 0:
        return "running as root and a process without CAP_DAC_OVERRIDE still wrote a 0444 file"
    if "PermissionError" not in probe.stderr:
        return f"running as root and setpriv could not drop capabilities: {probe.stderr[-300:]}"
    return None


def unprivileged(argv: list[str]) -> list[str]:
    """``argv`` made to run where file modes bind: unchanged when not root, else under
    :data:`DROP_FILE_CAPABILITIES`; skips the calling test when neither can be had."""
    if os.geteuid() != 0:
        return argv
    why = _cannot_drop()
    if why is not None:
        pytest.skip(why)
    return [*DROP_FILE_CAPABILITIES, *argv]
