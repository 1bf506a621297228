"""Shared material of the reliability suite: small phantoms, a tiny trained run, and how to run a command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from brats_unet.runs.folder import read_split

from ..conftest import TINY, Outcome  # noqa: F401  (re-exported for the reliability tests)


@pytest.fixture
def data_copy(phantoms, tmp_path) -> Path:
    dest = tmp_path / "data"
    shutil.copytree(phantoms, dest)
    return dest


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    dest = tmp_path / "run"
    shutil.copytree(tiny_run, dest)
    return dest


def first_test_case(run: Path) -> str:
    """The case evaluate and report read first: the run's first test case."""
    return read_split(run)["test"][0]


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if ".tmp" in p.name]
