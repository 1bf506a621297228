"""Shared fixtures: the real BraTS sample (beside the repository) and small caches built from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get("BRATS_SAMPLE", REPO.parent / "shared" / "data" / "brats2018-sample"))


def pytest_collection_modifyitems(items):
    """Mark every test that reads the real sample (``-m real_sample`` / ``-m "not real_sample"`` select them)."""
    for item in items:
        if {"sample_dir", "sample_cache"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_sample)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The 16 real BraTS 2018 cases (read-only)."""
    if not (SAMPLE / "SHA256SUMS").exists():
        pytest.skip(f"real BraTS sample not found at {SAMPLE} (set BRATS_SAMPLE)")
    return SAMPLE


@pytest.fixture(scope="session")
def sample_cache(sample_dir, tmp_path_factory):
    """The default (paper) preprocessing of the whole real sample, built once per session."""
    from brats_unet.config import DataConfig
    from brats_unet.data.cache import prepare_cache

    return prepare_cache(sample_dir, DataConfig(), tmp_path_factory.mktemp("cache"), workers=2, progress=False)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never write into the user's ~/.cache from tests."""
    monkeypatch.setenv("BRATS_UNET_CACHE", str(tmp_path_factory.getbasetemp() / "default-cache"))

