"""Write failures (a file where a folder should be, a read-only file system, a full disk), simulated
without root: one line naming the path and the cause, exit 2, and a run folder that stays consistent."""

from __future__ import annotations

import errno
import os
import stat
import time

import pytest
import torch

from brats_unet import atomic_files as bio
from brats_unet.runs.folder import read_metrics

from .conftest import TINY, temporaries

SETS = [a for s in TINY for a in ("--set", s)]


@pytest.mark.parametrize("entry", ("predict", "train", "prepare", "score", "study"))
def test_out_is_a_file(entry, tiny_run, phantoms, run_cli, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    (tmp_path / "s.yaml").write_text("name: s\nvariants: {ce: {loss: ce}}\n")
    args = {"predict": ["predict", tiny_run, phantoms, "--out", blocker],
            "train": ["train", "--data", phantoms, "--out", blocker, *SETS],
            "prepare": ["prepare", phantoms, "--out", blocker],
            "score": ["score", phantoms, phantoms, "--out", blocker / "scores.csv"],
            "study": ["study", tmp_path / "s.yaml", "--data", phantoms, "--out", blocker]}[entry]
    result = run_cli(*args)
    assert result.code == 2 and len(result.error_lines) == 1, result.err
    assert f"cannot write {blocker}" in result.error_lines[0] and "a file stands where" in result.error_lines[0]
    assert blocker.read_text() == "a file" and not temporaries(tmp_path)


def _refuse(code: int):
    def mkstemp(*args, **kwargs):
        raise OSError(code, os.strerror(code), kwargs.get("dir"))
    return mkstemp


def test_read_only_file_system_predict_reports_every_case(tiny_run, phantoms, run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(bio.tempfile, "mkstemp", _refuse(errno.EROFS))
    result = run_cli("predict", tiny_run, phantoms, "--out", tmp_path / "pred")
    assert result.code == 2 and len(result.error_lines) == 4  # every case tried, each failure reported
    assert all("read-only file system (EROFS)" in line for line in result.error_lines)
    assert not list((tmp_path / "pred").iterdir())


def test_read_only_file_system_train_leaves_no_folder(phantoms, run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(bio.tempfile, "mkstemp", _refuse(errno.EROFS))
    result = run_cli("train", "--data", phantoms, "--out", tmp_path / "runs" / "r", *SETS,
                     "--set", f"data.cache_dir={tmp_path / 'cache'}")
    assert result.code == 2 and len(result.error_lines) == 1 and "read-only file system" in result.error_lines[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_disk_full_mid_run_keeps_the_run_folder_consistent(tiny_run, phantoms, run_cli, tmp_path, monkeypatch):
    """The second epoch's checkpoint write fails: last.pt, best.pt and metrics.csv all still describe epoch 1,
    and --resume then finishes the run exactly as the uninterrupted one."""
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 3:  # epoch 1 wrote last.pt and best.pt; the next is epoch 2's
            raise OSError(errno.ENOSPC, "No space left on device", str(f))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    run = tmp_path / "run"
    cache = ["--set", f"data.cache_dir={tmp_path / 'cache'}"]
    result = run_cli("train", "--data", phantoms, "--out", run, *SETS, *cache)
    assert result.code == 2 and len(result.error_lines) == 1, result.err
    assert "the disk is full (ENOSPC)" in result.error_lines[0] and str(run) in result.error_lines[0]
    last, best = (torch.load(run / n, weights_only=True) for n in ("last.pt", "best.pt"))
    assert last["epoch"] == 0 and best["epoch"] == 0 and len(read_metrics(run)) == 1
    assert not temporaries(run)

    monkeypatch.setattr(torch, "save", real_save)
    assert run_cli("train", "--data", phantoms, "--out", run, "--resume").code == 0
    got, want = read_metrics(run), read_metrics(tiny_run)
    assert [r["epoch"] for r in got] == [1.0, 2.0]
    for a, b in zip(got, want):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)


def test_disk_full_on_one_case_predict_goes_on(tiny_run, phantoms, run_cli, tmp_path, monkeypatch):
    import brats_unet.infer.predict as predict

    real_save = predict.nib.save

    def save(img, path):
        if "Synth_002" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(img, path)

    monkeypatch.setattr(predict.nib, "save", save)
    out = tmp_path / "pred"
    result = run_cli("predict", tiny_run, phantoms, "--out", out)
    assert result.code == 2 and len(result.error_lines) == 1
    line = result.error_lines[0]
    assert line.count("case Synth_002") == 1 and "Synth_002_seg.nii.gz" in line and "disk is full" in line
    assert sorted(p.name for p in out.iterdir()) == [f"Synth_00{i}_seg.nii.gz" for i in (1, 3, 4)]
    assert "3 segmentation(s) written" in result.out and "1 failed" in result.out


@pytest.mark.parametrize("mask", (0o022, 0o002))
def test_files_follow_the_umask(mask, tiny_run, phantoms, run_cli, tmp_path):
    old = os.umask(mask)
    try:
        assert run_cli("predict", tiny_run, phantoms / "Synth_001", "--out", tmp_path / "pred").code == 0
        assert run_cli("prepare", phantoms, "--out", tmp_path / "cache", "--set", "data.size=32").code == 0
    finally:
        os.umask(old)
    seg = tmp_path / "pred" / "Synth_001_seg.nii.gz"
    case_dir = next((tmp_path / "cache").glob("*/Synth_001"))
    assert stat.S_IMODE(seg.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((case_dir / "meta.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(case_dir.stat().st_mode) == 0o777 & ~mask


def test_interrupted_writes_are_cleaned_up(tiny_run, phantoms, run_cli, tmp_path):
    cache = tmp_path / "cache"
    assert run_cli("prepare", phantoms, "--out", cache, "--set", "data.size=32").code == 0
    key = next(cache.iterdir())
    old, young = key / ".Synth_001.abc.tmp", key / ".Synth_002.def.tmp"
    old.mkdir()
    young.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert run_cli("prepare", phantoms, "--out", cache, "--set", "data.size=32").code == 0
    assert not old.exists() and young.exists()  # a young one may belong to another process still writing
    pred = tmp_path / "pred"
    pred.mkdir()
    stale = pred / ".Synth_001_seg.nii.gz.x1.tmp.nii.gz"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert run_cli("predict", tiny_run, phantoms / "Synth_001", "--out", pred).code == 0
    assert not stale.exists()


def test_a_temporary_renamed_away_while_cleaning_is_skipped(tmp_path, monkeypatch):
    # two processes sharing a cache: one lists the folder, the other renames its temporary into place
    # before the first looks at its age (the race behind a flaky torchrun study: ENOENT on lstat)
    gone = tmp_path / ".config.json.x1.tmp.json"
    old = tmp_path / ".meta.json.x2.tmp.json"
    old.write_text("{}")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    listed = [gone, old]
    monkeypatch.setattr(type(tmp_path), "iterdir", lambda self: iter(listed))
    bio.remove_stale_temps(tmp_path, older_than_s=bio.STALE_S)  # no FileNotFoundError
    assert not old.exists()
