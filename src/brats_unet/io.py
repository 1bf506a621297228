"""Atomic file writing: write to a temporary sibling, then rename, so nothing partial is ever left."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Optional


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + _suffix(path))
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _suffix(path: Path) -> str:
    """Keep the real extension on temp files (nibabel picks compression from it)."""
    return ".nii.gz" if path.name.endswith(".nii.gz") else path.suffix


def atomic_write(path: str | Path, writer: Callable[[Path], Any]) -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text atomically."""
    atomic_write(path, lambda p: p.write_text(text))


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (indented, keys in insertion order)."""
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def write_csv(rows: list[dict], path: str | Path, columns: Optional[Sequence[str]] = None) -> None:
    """Write dict rows as CSV atomically (columns: the given ones, else the first row's keys)."""
    columns = list(columns or rows[0])
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """CSV rows as dicts of strings."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
