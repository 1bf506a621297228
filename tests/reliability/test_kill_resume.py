"""kill -9 of a real training process inside an epoch, during validation and while the epoch's checkpoint
is being written; --resume then ends with the uninterrupted run's metrics, and at most one epoch is lost.

The process kills itself with SIGKILL at the named point (``BRATS_UNET_KILL_AT``), which is what an
outside ``kill -9`` at that moment does, without a timing race.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from brats_unet.config import load_config
from brats_unet.runs.folder import read_metrics
from brats_unet.train.loop import train

from .conftest import TINY, temporaries

pytestmark = pytest.mark.slow  # trains, spawns processes or opens a browser: make test only


SETS = TINY[:-1] + ["train.epochs=3", "train.precision=fp32"]  # 3 epochs: killed in the 2nd, resumed to the 3rd


@pytest.fixture(scope="module")
def uninterrupted(phantoms, tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    train(load_config(overrides=SETS + [f"data.cache_dir={root / 'cache'}"]), phantoms, root / "ref", progress=False)
    return root


@pytest.mark.parametrize("phase", ["step", "validation", "checkpoint"])
def test_kill_9_then_resume(phase, uninterrupted, phantoms, run_cli, tmp_path):
    run = tmp_path / "run"
    sets = SETS + [f"data.cache_dir={uninterrupted / 'cache'}"]
    cmd = [sys.executable, "-m", "brats_unet", "train", "--data", str(phantoms), "--out", str(run), "--quiet",
           *[a for s in sets for a in ("--set", s)]]
    killed = subprocess.run(cmd, env={**os.environ, "BRATS_UNET_KILL_AT": f"{phase}:2"}, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert len(read_metrics(run)) == 1 and torch.load(run / "last.pt", weights_only=True)["epoch"] == 0
    assert bool(temporaries(run)) == (phase == "checkpoint")  # the kill caught the epoch's files half-made

    assert run_cli("train", "--data", phantoms, "--out", run, "--resume", "--quiet").code == 0
    assert not temporaries(run)
    got, want = read_metrics(run), read_metrics(uninterrupted / "ref")
    assert len(got) == len(want) == 3
    for a, b in zip(got, want):
        for key in ("train_loss", "val_loss", "val_dice", "lr"):
            assert a[key] == pytest.approx(b[key], rel=1e-6), (phase, key, a["epoch"])
