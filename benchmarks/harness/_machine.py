"""Machine provenance: what every benchmark records beside its figures, read one way."""

from __future__ import annotations

import datetime
import gc
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

#: Packages whose versions a result records unless a script names others.
PACKAGES = ("automl_nas", "torch", "optuna", "scikit-learn", "numpy", "pandas")

_VERSIONS = """import json, sys, importlib.metadata as m
out = {}
for p in sys.argv[1:]:
    try: out[p] = m.version(p)
    except m.PackageNotFoundError: out[p] = None
print(json.dumps(out))"""


def _run(*cmd: str) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load1() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def children_cpu_s() -> float:
    """CPU seconds of this process's finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def versions(packages=PACKAGES, python: str | None = None) -> dict:
    """Installed version of each package (None if absent), in ``python`` (default: this one)."""
    out = _run(python or sys.executable, "-c", _VERSIONS, *packages)
    return json.loads(out) if out else {}


def commit() -> str:
    """The commit of the automl_nas this interpreter imports (not importing it), ``+dirty``
    with uncommitted changes in the package; "unknown" outside a git checkout."""
    spec = importlib.util.find_spec("automl_nas")
    if spec is None or spec.origin is None:
        return "unknown"
    git = ["git", "-C", str(Path(spec.origin).resolve().parents[1])]
    head = _run(*git, "rev-parse", "--short", "HEAD")
    dirty = _run(*git, "status", "--porcelain", "--", "automl_nas")
    return (head + ("+dirty" if dirty else "")) if head else "unknown"


T = TypeVar("T")


def snapshot(ref: str, into: Path) -> str:
    """``automl_nas`` as committed at ``ref`` into ``into`` (the working tree may be mid-edit),
    for a fresh interpreter to import with ``into`` first on ``PYTHONPATH``; the label a
    result records."""
    root = Path(__file__).resolve().parents[2]
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "automl_nas"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    short = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", ref],
                           capture_output=True, text=True, check=True).stdout.strip()
    return f"automl_nas from commit {short} ({ref})"


def _status_bytes(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", text)[1]) * 1024


def peak_rss_of(run: Callable[[], T]) -> tuple[int, T]:
    """``run()``'s result and the bytes of peak RSS it added above this process's RSS before
    it (threads included, child processes not). The kernel's peak (VmHWM) is reset first
    through ``/proc/self/clear_refs``, so Linux only."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_bytes("VmRSS")
    out = run()
    return _status_bytes("VmHWM") - before, out


@dataclass(frozen=True)
class Machine:
    """Where and when a measurement ran. ``summary()`` is the line results print."""

    date: str
    cpu: str
    nproc: int  # cores this process may use (what `nproc` prints)
    memory_gib: float
    gpu: str  # the GPUs nvidia-smi lists, "" for none
    load1: float
    python: str
    uname: str
    commit: str
    versions: dict = field(default_factory=dict)

    def label(self) -> str:
        """The CPU, short, for a CSV column: ``AMD EPYC x2 CPU``."""
        return f"{self.cpu} x{self.nproc} CPU"

    def summary(self) -> str:
        """One line for a results file's header."""
        libs = ", ".join(f"{k} {v}" for k, v in self.versions.items() if v and k != "automl_nas")
        return (
            f"{self.date}; {self.cpu}, nproc {self.nproc}, {self.memory_gib} GiB, "
            f"{'GPU ' + self.gpu if self.gpu else 'no GPU'}; 1-min load {self.load1:.2f}; "
            f"Python {self.python}, {libs}; automl_nas {self.commit}"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def machine(packages=PACKAGES) -> Machine:
    """This machine now: CPU, cores, memory, GPUs, load, versions and the automl_nas commit."""
    nvidia = shutil.which("nvidia-smi")
    gpus = _run(nvidia, "--query-gpu=name", "--format=csv,noheader") if nvidia else ""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count())
    return Machine(
        date=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        cpu=cpu_model(),
        nproc=len(cores),
        memory_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        gpu=", ".join(line.strip() for line in gpus.splitlines() if line.strip()),
        load1=load1(),
        python=platform.python_version(),
        uname=" ".join(platform.uname()),
        commit=commit(),
        versions=versions(packages),
    )


def command(script: str, argv: list[str] | None = None) -> str:
    """The command line that produced a result, as a user would type it."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python", f"benchmarks/{Path(script).name}", *args])


def row_in_own_process(script: str, *args: str, library: Path | None = None) -> dict:
    """``python SCRIPT _one ARGS`` in a fresh interpreter (nothing imported or warmed by the
    runs before it), and the JSON row it prints on its last line: how the scripts that compare
    modes or commits of automl_nas run each fit. ``library``: a folder put first on its
    ``PYTHONPATH`` (a commit's ``automl_nas``, :func:`snapshot`); a failed run exits with
    the end of its error output."""
    env = dict(os.environ) if library is None else {**os.environ, "PYTHONPATH": str(library)}
    done = subprocess.run([sys.executable, script, "_one", *args], capture_output=True,
                          text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{Path(script).name} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])

