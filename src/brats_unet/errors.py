"""Project-wide error types. The CLI turns any :class:`BratsError` into one stderr line and exit 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TypeVar

T = TypeVar("T")


class BratsError(ValueError):
    """A user-facing error: bad input, bad config or bad file. The message names the culprit and the fix."""


class ConfigError(BratsError):
    """A configuration key or value is unknown or invalid."""


class DataError(BratsError):
    """A data file or folder is missing, unreadable or inconsistent."""


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
