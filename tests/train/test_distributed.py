"""torchrun with 2 processes (gloo on CPU) on real cases: the same run as one process, one run folder,
and a killed 2-process run resumed by a different number of processes.

Equality needs what the single-process run also draws identically: no dropout, no augmentation, fp32,
and a loss that is a mean over voxels (CE), so the mean of the two half-batch gradients is the
full-batch gradient. Tolerances cover float summation order only (different batch splits and threads).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from brats_unet.config import load_config
from brats_unet.runs.folder import read_metrics
from brats_unet.train.loop import train

pytestmark = pytest.mark.slow  # trains, spawns processes or opens a browser: make test only


EPOCHS = 6


def settings(cache: Path) -> list[str]:
    return ["data.max_cases=4", "data.size=64", "model.base_features=8", "model.depth=3", "model.dropout=0.0",
            "train.batch_size=4", "train.steps_per_epoch=3", f"train.epochs={EPOCHS}", "train.precision=fp32",
            "train.val_max_cases=1", f"data.cache_dir={cache}"]


def command(nproc: int, data: Path, out: Path, sets: list[str], resume: bool = False) -> list[str]:
    head = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] \
        if nproc > 1 else [sys.executable]
    tail = ["-m", "brats_unet", "train", "--data", str(data), "--out", str(out), "--quiet"]
    return head + tail + (["--resume"] if resume else [a for s in sets for a in ("--set", s)])


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "last.pt", weights_only=True)["model"]


def assert_same_run(run: Path, ref: Path) -> None:
    """Stated tolerance: epoch 1 (3 steps) to 1e-5 relative, the loss curve to 2e-3, weights to 1e-2.

    Float summation order differs (half batches, one thread per rank); Adam turns that noise into
    sign-sized steps where a gradient is near zero, so the runs drift apart slowly (measured here: epoch 1
    2e-7, epoch 6 6e-4 relative; weights 4.4e-3 after 18 steps). A wrong share or a missing gradient
    average moves epoch 1 by ~1e-2.
    """
    got, want = read_metrics(run), read_metrics(ref)
    assert [r["epoch"] for r in got] == [r["epoch"] for r in want] == list(range(1, EPOCHS + 1))
    assert got[0]["train_loss"] == pytest.approx(want[0]["train_loss"], rel=1e-5)
    assert got[0]["val_loss"] == pytest.approx(want[0]["val_loss"], rel=1e-5)
    for a, b in zip(got, want):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=2e-3), (a["epoch"], a, b)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=2e-3)
    w, v = weights(run), weights(ref)
    assert w.keys() == v.keys()  # the unwrapped net is saved, no DDP "module." prefix
    worst = max(float((w[k].float() - v[k].float()).abs().max()) for k in w)
    assert worst < 1e-2, f"largest weight difference {worst:.2e}"


def failed(done: subprocess.CompletedProcess) -> str:
    return done.stderr[:4000] + "\n...\n" + done.stderr[-1500:]


@pytest.fixture(scope="module")
def reference(sample_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    sets = settings(root / "cache")
    train(load_config(overrides=sets), sample_dir, root / "single", progress=False)
    return root, sets


def test_two_processes_match_one(reference, sample_dir):
    root, sets = reference
    out = root / "ddp2"
    done = subprocess.run(command(2, sample_dir, out, sets), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, failed(done)
    assert_same_run(out, root / "single")
    assert sorted(p.name for p in root.iterdir()) == ["cache", "ddp2", "single"]  # one run folder, no strays
    assert not list(out.glob("**/.*.tmp*"))
    assert '"processes": 2' in (out / "run.json").read_text()


def test_killed_two_process_run_resumes_with_one(reference, sample_dir):
    root, sets = reference
    out = root / "killed"
    proc = subprocess.Popen(command(2, sample_dir, out, sets), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while not (out / "last.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks, mid-run
    proc.wait()
    finished = len(read_metrics(out))
    assert 1 <= finished < EPOCHS, f"the kill came after {finished} epochs"
    done = subprocess.run(command(1, sample_dir, out, sets, resume=True), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, failed(done)
    assert_same_run(out, root / "single")


def test_batch_must_split_over_the_processes(sample_dir, tmp_path):
    sets = settings(tmp_path / "cache") + ["train.batch_size=3"]
    done = subprocess.run(command(2, sample_dir, tmp_path / "r", sets), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "train.batch_size: 3 does not split over 2 processes; use 4" in done.stderr
    assert not (tmp_path / "r").exists()


def test_each_rank_takes_a_disjoint_share_of_every_batch(reference, sample_dir, tmp_path):
    """In process: rank shares of each global batch are disjoint and together are the single-process batch."""
    from brats_unet.distributed import Context
    from brats_unet.train.loop import Trainer

    root, sets = reference
    trainer = Trainer(load_config(overrides=sets), sample_dir, tmp_path / "r", progress=False, distributed=False)
    single = list(trainer._batches(1).batch_sampler)
    shares = []
    for rank in range(2):
        trainer.dist = Context(rank, 2, rank)
        shares.append(list(trainer._batches(1).batch_sampler))
    assert len(single) == len(shares[0]) == len(shares[1]) == 3
    for whole, a, b in zip(single, *shares):
        assert len(a) == len(b) == 2 and sorted(a + b) == sorted(whole)


def test_time_budget_stops_every_rank_together(reference, sample_dir, tmp_path):
    """Rank 0's clock decides: ranks that disagreed would hang in the next collective (the timeout fails it)."""
    root, sets = reference
    out = tmp_path / "budget"
    budget = [s for s in sets if not s.startswith("train.epochs")] + ["train.epochs=1000", "train.max_minutes=0.05"]
    done = subprocess.run(command(2, sample_dir, out, budget), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, failed(done)
    assert 1 <= len(read_metrics(out)) < 1000
    assert done.stdout.count("run folder:") == 1  # said by rank 0 only


STUDY = """
name: tiny
base: {data: {size: 64, slices: [60, 100], max_cases: 5}, model: {base_features: 4, depth: 3},
       train: {batch_size: 4, steps_per_epoch: 2, val_max_cases: 1, epochs: 1}}
seeds: [0]
variants:
  ce: {loss: ce}
  dice: {loss: dice}
"""


def test_study_runs_one_variant_per_process(sample_dir, tmp_path):
    (tmp_path / "tiny.yaml").write_text(STUDY)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "brats_unet",
           "study", str(tmp_path / "tiny.yaml"), "--data", str(sample_dir), "--out", str(out), "--quiet",
           "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, failed(done)
    assert "[rank 0] ce" in done.stdout and "[rank 1] dice" in done.stdout  # one variant on each process
    for variant in ("ce", "dice"):
        info = (out / "runs" / variant / "seed0" / "run.json").read_text()
        assert '"processes": 1' in info  # trained single-process, not as one DDP job
    assert (out / "report.md").exists() and "dice" in (out / "summary.csv").read_text()
