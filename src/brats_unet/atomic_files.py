"""Atomic file writing: write to a temporary sibling, then rename, so nothing partial is ever left.

Every file the package writes goes through here, so three guarantees hold everywhere: a reader never
sees a half-written file, files get the user's umask (``mkstemp`` alone would make them 0600), and any
``OSError`` while writing becomes one :class:`~brats_unet.errors.WriteError` naming the path and the
cause. :func:`atomic_group` writes several files that must agree (a checkpoint and its metrics) so
that either all of them or none replace the old ones.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

from .errors import WriteError, write_error

TEMP_MARK = ".tmp"  # every temporary name holds it: `.<name>.<random>.tmp<suffix>`
STALE_S = 3600.0  # in folders several processes may share, a temporary this old was left by an interrupted write


def umask() -> int:
    """The process umask (read without changing it for longer than the call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _suffix(path: Path) -> str:
    """Keep the real extension on temp files (nibabel picks compression from it)."""
    return ".nii.gz" if path.name.endswith(".nii.gz") else path.suffix


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_MARK + _suffix(path))
    os.close(fd)
    os.chmod(tmp, 0o666 & ~umask())
    return Path(tmp)


def refuse_file(path: str | Path, what: str) -> None:
    """Before any work: a file standing where the folder ``what`` will go is a WriteError naming it."""
    if Path(path).exists() and not Path(path).is_dir():
        raise WriteError(f"cannot write {path}: a file stands where the {what} is needed; choose another --out")


def make_folder(path: str | Path) -> Path:
    """``mkdir -p`` whose failure (a file in the way, permission, read-only) is one WriteError naming the path."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    return Path(path)


def temp_folder(parent: Path, name: str) -> Path:
    """A hidden temporary folder in ``parent`` with the umask's permissions (``mkdtemp`` makes 0700)."""
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=TEMP_MARK))
    os.chmod(tmp, 0o777 & ~umask())
    return tmp


@contextlib.contextmanager
def atomic_group(*paths: str | Path) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``paths``; rename them all onto ``paths`` only if the block succeeds.

    A failure while writing any of them leaves every target as it was (renames within a folder do not
    need free space, so they are not where a full disk strikes).
    """
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for target in targets:
            temps.append(_temp_beside(target))
        yield list(temps)
        for tmp, target in zip(temps, targets):
            os.replace(tmp, target)
    except OSError as exc:
        culprit = targets[len(temps)] if len(temps) < len(targets) else _culprit(exc, targets)
        raise write_error(culprit, exc) from None
    except RuntimeError as exc:
        # torch.save reports a failed write (a full disk, a quota) as a RuntimeError from its C++ stream writer
        if not any(word in str(exc).lower() for word in ("write", "iostream")):
            raise
        first = (str(exc).strip().splitlines() or [""])[-1][:120]
        raise write_error(targets[0], OSError(errno.EIO, f"PyTorch could not write the file ({first}); is the "
                                              "disk full?")) from None
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()


def _culprit(exc: OSError, targets: list[Path]) -> Path:
    """The target a failed write was for (by the temp name the OSError carries), else the first."""
    name = str(exc.filename or "")
    return next((t for t in targets if Path(name).name.startswith(f".{t.name}.")), targets[0])


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    with atomic_group(path) as (tmp,):
        yield tmp


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


def write_csv_to(rows: list[dict], path: str | Path, columns: Optional[Sequence[str]] = None) -> None:
    """Write dict rows as CSV to ``path`` as it is (columns: the given ones, else the first row's keys)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns or rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_csv(rows: list[dict], path: str | Path, columns: Optional[Sequence[str]] = None) -> None:
    """Write dict rows as CSV atomically."""
    with atomic_path(path) as tmp:
        write_csv_to(rows, tmp, columns)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MB blocks (a checkpoint: tens of MB, well under a second)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """CSV rows as dicts of strings."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def remove_stale_temps(folder: str | Path, older_than_s: float = 0.0) -> None:
    """Delete the temporary files and folders an interrupted write left in ``folder`` (not recursive).

    ``older_than_s`` > 0 spares young ones, which another process may still be writing (shared caches).
    """
    folder, now = Path(folder), time.time()
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if not (p.name.startswith(".") and TEMP_MARK in p.name):
            continue
        try:
            age = now - p.lstat().st_mtime
        except FileNotFoundError:  # another process renamed its temporary into place since iterdir listed it
            continue
        if age < older_than_s:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
