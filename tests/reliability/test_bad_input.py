"""Every kind of bad input through every entry point that reads data: exit 2, one error line naming
the culprit, no traceback, and nothing partial left behind (no temporary, no half run folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import damage
from .conftest import TINY, first_test_case, temporaries

IMAGE_ENTRIES = ("check", "prepare", "train", "predict", "evaluate", "report", "study")
SEG_ENTRIES = ("check", "prepare", "train", "evaluate", "report", "study", "score")
MATRIX = [(k, e) for k in damage.IMAGE_KINDS for e in IMAGE_ENTRIES] + \
         [(k, e) for k in damage.SEG_KINDS for e in SEG_ENTRIES]
STUDY = """
name: tiny
base: {data: {size: 32}, model: {base_features: 4, depth: 2}, train: {epochs: 1, steps_per_epoch: 1, batch_size: 4}}
variants: {ce: {loss: ce}}
"""


def command(entry: str, data: Path, run: Path, tmp: Path) -> tuple[list, Path]:
    """The command line of an entry point on ``data``, and the output it must not leave half-made."""
    out = tmp / "out"
    if entry == "check":
        return ["check", data], out
    if entry == "prepare":
        return ["prepare", data, "--out", out, "--set", "data.size=32"], out
    if entry == "train":
        return ["train", "--data", data, "--out", out, *[a for s in TINY for a in ("--set", s)]], out
    if entry == "predict":
        return ["predict", run, data, "--out", out], out
    if entry in ("evaluate", "report"):
        return [entry, run, "--data", data], run / ("eval" if entry == "evaluate" else "figures")
    if entry == "study":
        (tmp / "tiny.yaml").write_text(STUDY)
        return ["study", tmp / "tiny.yaml", "--data", data, "--out", out], out
    preds = tmp / "preds"  # score: good predictions against the damaged references
    preds.mkdir()
    for seg in (tmp.parent / "pristine").rglob("*_seg.nii.gz"):
        shutil.copy(seg, preds / seg.name)
    return ["score", preds, data, "--out", out / "scores.csv"], out


@pytest.mark.parametrize("kind, entry", MATRIX, ids=[f"{k}-{e}" for k, e in MATRIX])
def test_bad_input_is_refused_cleanly(kind, entry, data_copy, run_copy, phantoms, run_cli, tmp_path):
    (tmp_path.parent / "pristine").exists() or shutil.copytree(phantoms, tmp_path.parent / "pristine")
    bad_case = data_copy / first_test_case(run_copy)
    culprit = (damage.IMAGE_KINDS | damage.SEG_KINDS)[kind](data_copy, bad_case)
    before = sorted(p.name for p in (run_copy / "figures").iterdir())
    args, output = command(entry, data_copy, run_copy, tmp_path)

    result = run_cli(*args)

    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    if entry == "check" and not result.error_lines:  # problems on stdout, one per line; the count on stderr
        assert len(result.err.splitlines()) == 1 and "problem(s)" in result.err, result.err
        named = result.out
    else:
        assert len(result.error_lines) == 1, result.err
        named = result.error_lines[0]
        assert named.startswith(f"brats-unet {entry}: error: "), named  # a line of its own, after any progress bar
    if entry == "score" and kind == "seg_shape_mismatch":
        culprit = bad_case.name  # the pair is refused by case id
    assert culprit in named, named
    assert not temporaries(tmp_path)
    if entry in ("train", "study", "score", "evaluate"):
        assert not output.exists(), sorted(output.rglob("*"))
    if entry == "prepare":
        assert not list(output.glob(f"*/{bad_case.name}"))
    if entry == "predict":
        assert not (output / f"{bad_case.name}_seg.nii.gz").exists()
        assert named.count(f"case {bad_case.name}:") <= 1, named  # never "case X: case X:"
    if entry == "report":
        assert sorted(p.name for p in output.iterdir()) == before  # no Figure 3 of the bad case


def test_the_matrix_is_large_enough():
    kinds = {k for k, _ in MATRIX}
    assert len(kinds) >= 20 and len(MATRIX) >= 140


def test_nonfinite_voxels_can_be_read_as_zero_on_request(data_copy, tiny_run, run_cli, tmp_path):
    name = damage.nan_voxels(data_copy, data_copy / "Synth_001")
    refused = run_cli("predict", tiny_run, data_copy / "Synth_001", "--out", tmp_path / "a")
    assert refused.code == 2 and "data.nonfinite=zero" in refused.error_lines[0]
    allowed = run_cli("predict", tiny_run, data_copy / "Synth_001", "--out", tmp_path / "b", "--nonfinite", "zero")
    assert allowed.code == 0 and f"warning: {data_copy / 'Synth_001' / name}" in allowed.err
    assert "non-finite voxels read as 0" in allowed.err and (tmp_path / "b" / "Synth_001_seg.nii.gz").exists()


def test_empty_masks_are_reported(tiny_run, phantoms, run_cli, tmp_path, monkeypatch):
    import numpy as np

    import brats_unet.infer.predict as predict

    real = predict.segment

    def no_tumour_in_002(run, case, tta=False, probabilities=False):
        labels, probs = real(run, case, tta, probabilities)
        return (np.zeros_like(labels) if case.case_id == "Synth_002" else labels), probs

    monkeypatch.setattr(predict, "segment", no_tumour_in_002)
    result = run_cli("predict", tiny_run, phantoms, "--out", tmp_path / "p")
    assert result.code == 0
    assert "no tumour predicted although the input has brain voxels" in result.out and "Synth_002" in result.out


def test_dangling_link_and_permission_are_named_as_such(data_copy, run_cli, monkeypatch):
    damage.dangling_symlink(data_copy, data_copy / "Synth_001")
    result = run_cli("check", data_copy)
    assert "dangling symbolic link to" in result.out
    import brats_unet.data.volumes as volumes

    def denied(path, *a, **k):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(volumes.nib, "load", denied)  # as root, chmod cannot take read access away
    result = run_cli("check", data_copy / "Synth_002")
    assert "cannot read: permission denied (EACCES)" in result.out
