"""Shared fixtures: the real BraTS sample (beside the repository) and small caches built from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from brats_unet.cli import main
from brats_unet.config import load_config
from brats_unet.data.synth import write_synthetic
from brats_unet.train.loop import train

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get("BRATS_SAMPLE", REPO.parent / "shared" / "data" / "brats2018-sample"))


# Fixtures that train on real cases: a test using one is in the slow lane whatever its own cost.
SLOW_FIXTURES = {"sample_run", "sample_cache", "study_run", "tumour_run", "exported"}


def pytest_collection_modifyitems(items):
    """Mark every test that reads the real sample (``-m real_sample``), and every test that trains on it as
    ``slow`` (``make check`` runs ``-m "not slow"``; ``make test`` runs everything)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if {"sample_dir", "sample_cache"} & used:
            item.add_marker(pytest.mark.real_sample)
        if SLOW_FIXTURES & used:
            item.add_marker(pytest.mark.slow)


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


TINY = ["data.size=32", "model.base_features=4", "model.depth=2", "train.epochs=2", "train.steps_per_epoch=2",
        "train.batch_size=4", "train.precision=fp32"]


@pytest.fixture(scope="session")
def phantoms(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phantoms") / "data"
    write_synthetic(root, cases=4, seed=3, shape=(40, 40, 16))
    return root


@pytest.fixture(scope="session")
def tiny_run(phantoms, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run") / "run"
    cache = tmp_path_factory.mktemp("cache")
    train(load_config(overrides=TINY + [f"data.cache_dir={cache}"]), phantoms, run, progress=False)
    return run


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if "error:" in line]


@pytest.fixture
def run_cli(capsys):
    def run(*args) -> Outcome:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)
    return run


QUICK = ["data.max_cases=5", "data.size=64", "data.slices=[40, 120]", "train.batch_size=8",
         "train.steps_per_epoch=4", "train.epochs=2", "model.base_features=8", "data.oversample=0.5"]


@pytest.fixture(scope="session")
def sample_run(sample_dir, tmp_path_factory) -> Path:
    """A quick run trained on 5 real cases (for tests of what uses a trained run: API, export, reports)."""
    run = tmp_path_factory.mktemp("sample-run") / "run"
    cache = tmp_path_factory.getbasetemp() / "default-cache"  # session fixtures start before _isolated_cache
    train(load_config(overrides=QUICK + [f"data.cache_dir={cache}"]), sample_dir, run, progress=False)
    return run
