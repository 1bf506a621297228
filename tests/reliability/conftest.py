"""Shared material of the reliability suite: small phantoms, a tiny trained run, and how to run a command."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from brats_unet.cli import main
from brats_unet.config import load_config
from brats_unet.data.synth import write_synthetic
from brats_unet.runs.folder import read_split
from brats_unet.train.loop import train

TINY = ["data.size=32", "model.base_features=4", "model.depth=2", "train.epochs=2", "train.steps_per_epoch=2",
        "train.batch_size=4", "train.precision=fp32"]


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
