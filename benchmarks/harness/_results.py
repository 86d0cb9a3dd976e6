"""Result files: where they go (``benchmarks/results/``) and how they are written."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

#: Every script's default output folder.
RESULTS = Path(__file__).resolve().parents[1] / "results"


def result_path(name: str) -> Path:
    """``benchmarks/results/<name>``: the default of a script's ``--out``."""
    return RESULTS / name


def write_csv(
    path: Path | str, rows: Sequence[dict], fields: Sequence[str] | None = None,
    *, append: bool = False,
) -> Path:
    """Write ``rows`` (columns ``fields``, else the first row's keys) to ``path``.

    ``append`` adds to an existing file, header first if the file is new; a file with other
    columns is an error rather than a mixed table.
    """
    path = Path(path)
    fields = list(fields if fields is not None else rows[0])
    new = not append or not path.exists() or path.stat().st_size == 0
    if not new:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if header != fields:
            raise SystemExit(f"{path} has other columns; write to a new --out file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w" if new else "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerows(rows)
    return path


def write_text(path: Path | str, lines: str | Iterable[str]) -> str:
    """Write markdown (a string or its lines) to ``path``; return the text."""
    text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def write_json(path: Path | str, obj: object) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A markdown table's lines."""
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(str(v) for v in row) + " |" for row in rows),
    ]
