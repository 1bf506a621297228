"""Project-wide error types. The CLI turns any :class:`BratsError` into one stderr line and exit 2."""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Iterable, Mapping
from typing import TypeVar

T = TypeVar("T")


class BratsError(ValueError):
    """A user-facing error: bad input, bad config or bad file. The message names the culprit and the fix."""


class ConfigError(BratsError):
    """A configuration key or value is unknown or invalid."""


class DataError(BratsError):
    """A data file or folder is missing, unreadable or inconsistent."""


class WriteError(BratsError):
    """A file or folder could not be written (disk full, permission, a file where a folder should be)."""


CAUSES = {
    errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a file stands where a folder is needed", errno.EEXIST: "a file stands where a folder is needed",
    errno.EISDIR: "a folder stands where a file is needed", errno.ENOENT: "a parent folder is missing",
}


def cause(exc: OSError) -> str:
    """A plain-words cause for an OSError, e.g. ``the disk is full (ENOSPC)``."""
    name = errno.errorcode.get(exc.errno or 0, "")
    words = CAUSES.get(exc.errno or 0) or exc.strerror or str(exc)
    return f"{words} ({name})" if name else words


def write_error(path: str | os.PathLike, exc: OSError) -> WriteError:
    """The one error a failed write becomes: the path the user named (or its nearest folder) and the cause."""
    culprit = exc.filename if isinstance(exc.filename, str) and exc.errno in (errno.ENOTDIR, errno.EEXIST) else path
    return WriteError(f"cannot write {culprit}: {cause(exc)}")


def closest(name: str, options: Iterable[str]) -> str:
    """Return a ``"; did you mean 'x'?"`` suffix for the closest option, or ``""``."""
    match = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ""


def look_up(name: str, registry: Mapping[str, T], what: str) -> T:
    """Look ``name`` up in a plain-dict registry, as MONAI's ``look_up_option`` does.

    Raises:
        ConfigError: listing every option and the closest match when ``name`` is unknown.
    """
    if name in registry:
        return registry[name]
    opts = ", ".join(sorted(registry))
    raise ConfigError(f"unknown {what} '{name}'; options: {opts}{closest(name, registry)}")
