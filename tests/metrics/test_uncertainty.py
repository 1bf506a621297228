"""The QU-BraTS 2020 uncertainty score: hand-computed AUCs, agreement with the organisers' algorithm on a real
case, and `predict --uncertainty` / `score --uncertainty` end to end with their bad inputs."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from brats_unet.metrics.uncertainty import EPS, qubrats, thresholds


def test_hand_computed_case():
    """Ten voxels, thresholds 100 / 50 / 0 (num_points=2). TP at uncertainty 0, 0, 80; FP at 90; FN at 30;
    TN at 0, 0, 60, 0, 0. Dice .75 / .8 / 1, FTP 0 / 1/3 / 1/3, FTN 0 / .2 / .2 at t = 100 / 50 / 0:
    AUCs .8375, .25, .15; score (.8375 + .75 + .85) / 3 = .8125."""
    ref = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool).reshape(10, 1, 1)
    pred = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], bool).reshape(10, 1, 1)
    unc = np.array([0, 0, 80, 30, 90, 0, 0, 60, 0, 0], np.uint8).reshape(10, 1, 1)
    got = qubrats(ref, pred, unc, np.ones_like(ref), num_points=2)
    assert got["dice_auc"] == pytest.approx(0.8375, abs=1e-6)
    assert got["ftp_auc"] == pytest.approx(0.25, abs=1e-6)
    assert got["ftn_auc"] == pytest.approx(0.15, abs=1e-6)
    assert got["score"] == pytest.approx(0.8125, abs=1e-6)
    np.testing.assert_allclose(thresholds(40)[[0, 1, -1]], [100, 97.5, 0])


def test_integer_maps_count_as_float_maps_do():
    """The histogram path for uint8 maps gives exactly what sorting the values gives, at fractional cuts too."""
    rng = np.random.default_rng(0)
    ref, pred = rng.random((30, 20, 10)) < 0.3, rng.random((30, 20, 10)) < 0.3
    unc = rng.integers(0, 101, (30, 20, 10)).astype(np.uint8)
    brain = rng.random((30, 20, 10)) < 0.8
    for points in (40, 7):  # 97.5, ... and 100 / 7 steps: cuts between integers
        assert qubrats(ref, pred, unc, brain, points) == qubrats(ref, pred, unc.astype(np.float32), brain, points)


def organisers(ref, pred, unc, brain, num_points=40):
    """The algorithm of the organisers' BraTS_Seg_Uncertainty.py, transcribed plainly for this test (a loop over
    thresholds in float32, as they compute it); not used by the package."""
    cuts = np.arange(0.0, 100.0 + EPS, 100.0 / num_points).tolist()[::-1]
    gt, pr, br = ref.astype("float32"), pred.astype("float32"), brain.astype("float32")
    dice, ftp, ftn = [], [], []
    for th in cuts:
        keep = np.ones_like(unc, dtype="float32")
        keep[unc > th] = 0.0
        g, p = gt * keep, pr * keep
        inter, union = np.sum(p * g), np.sum(p) + np.sum(g)
        dice.append(1.0 if inter == 0 and union == 0 else 2.0 * inter / union)
        tp = pr * gt * br
        ftp.append((tp.sum() - (tp * keep).sum()) / (tp.sum() + EPS))
        tn = (1 - pr) * (1 - gt) * br
        ftn.append((tn.sum() - (tn * keep).sum()) / (tn.sum() + EPS))
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy 2 renamed it
    area = lambda y: abs(trapezoid(y, cuts)) / 100.0  # noqa: E731  (sklearn's auc, direction-corrected)
    return {"dice_auc": area(dice), "ftp_auc": area(ftp), "ftn_auc": area(ftn)}


@pytest.mark.slow
def test_agrees_with_the_organisers_algorithm_on_a_real_case(sample_dir):
    case = sample_dir / "Brats18_TCIA02_135_1"
    seg = np.asarray(nib.load(str(case / "Brats18_TCIA02_135_1_seg.nii.gz")).dataobj)
    t1 = np.asarray(nib.load(str(case / "Brats18_TCIA02_135_1_t1.nii.gz")).dataobj)
    ref = seg > 0
    pred = ndimage.binary_dilation(ndimage.binary_erosion(ref, iterations=2), iterations=1)
    pred[100:110, 100:110, 70:75] = True  # a false-positive blob
    # uncertain near the predicted boundary, certain far from it, with noise: a realistic, non-trivial map
    dist = ndimage.distance_transform_edt(~pred) + ndimage.distance_transform_edt(pred)
    rng = np.random.default_rng(0)
    unc = np.clip(100 * np.exp(-dist / 3) + rng.normal(0, 8, dist.shape), 0, 100).astype(np.uint8)
    ours = qubrats(ref, pred, unc, t1 > 0)
    theirs = organisers(ref, pred, unc, t1 > 0)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key
    assert 0 < ours["ftp_auc"] < 1 and 0 < ours["ftn_auc"] < 1 and ours["dice_auc"] > 0.5


def _uncertainty_run(run, data, run_cli, out):
    assert run_cli("predict", run, data / "Synth_001", "--out", out, "--uncertainty").code == 0
    return out


def test_predict_writes_three_maps_on_the_input_grid(tiny_run, phantoms, run_cli, tmp_path):
    out = _uncertainty_run(tiny_run, phantoms, run_cli, tmp_path / "pred")
    flair = nib.load(str(phantoms / "Synth_001" / "Synth_001_flair.nii.gz"))
    for suffix in ("whole", "core", "enhance"):
        img = nib.load(str(out / f"Synth_001_unc_{suffix}.nii.gz"))
        data = np.asarray(img.dataobj)
        assert data.dtype == np.uint8 and data.shape == flair.shape and 0 <= data.min() and data.max() <= 100
        np.testing.assert_allclose(img.affine, flair.affine)


def test_score_uncertainty_and_its_bad_inputs(tiny_run, phantoms, run_cli, tmp_path):
    out = _uncertainty_run(tiny_run, phantoms, run_cli, tmp_path / "pred")
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "Synth_001").symlink_to(phantoms / "Synth_001")
    result = run_cli("score", out, ref, "--out", tmp_path / "s.csv", "--uncertainty", out)
    assert result.code == 0 and "QU-BraTS 2020 uncertainty score" in result.out
    rows = list(csv.DictReader(open(tmp_path / "s_uncertainty.csv")))
    assert [r["region"] for r in rows] == ["WT", "TC", "ET"] and all(0 <= float(r["score"]) <= 1 for r in rows)

    whole = out / "Synth_001_unc_whole.nii.gz"
    img = nib.load(str(whole))
    cases = {
        "grid": (nib.Nifti1Image(np.zeros((8, 8, 8), np.uint8), img.affine), "shape (8, 8, 8)"),
        "range": (nib.Nifti1Image(np.full(img.shape, 150, np.int16), img.affine), "values must lie in 0..100"),
    }
    for name, (bad, message) in cases.items():
        nib.save(bad, str(whole))
        result = run_cli("score", out, ref, "--out", tmp_path / f"{name}.csv", "--uncertainty", out)
        assert result.code == 2 and len(result.error_lines) == 1 and message in result.error_lines[0]
        assert "Synth_001_unc_whole.nii.gz" in result.error_lines[0]
    whole.unlink()
    result = run_cli("score", out, ref, "--out", tmp_path / "m.csv", "--uncertainty", out)
    assert result.code == 2 and "Synth_001_unc_whole.nii.gz: uncertainty map missing" in result.error_lines[0]


def test_predict_arrays_returns_the_maps(tiny_run, phantoms):
    import brats_unet as bu

    run = bu.load_run(tiny_run)
    vols = {m: np.asarray(nib.load(str(phantoms / "Synth_001" / f"Synth_001_{m}.nii.gz")).dataobj)
            for m in ("flair", "t1ce")}
    labels, maps = bu.predict_arrays(run, vols, uncertainty=True)
    assert sorted(maps) == ["ET", "TC", "WT"] and all(m.shape == labels.shape and m.dtype == np.uint8
                                                      for m in maps.values())
    labels2, probs, maps2 = bu.predict_arrays(run, vols, probabilities=True, uncertainty=True)
    np.testing.assert_array_equal(maps2["WT"], maps["WT"])
    # certain where the whole-tumour probability is near 0 or 1, most uncertain near one half
    p_wt = 1 - probs[0]
    assert maps["WT"][p_wt > 0.999].max(initial=0) <= 2 and maps["WT"][np.abs(p_wt - 0.5) < 0.01].min(initial=100) >= 99


@pytest.mark.slow
def test_real_case_end_to_end(sample_run, sample_dir, run_cli, tmp_path):
    """The acceptance: a real sample case predicted with --uncertainty, then scored with the maps."""
    case = "Brats18_TCIA02_135_1"
    out = tmp_path / "pred"
    assert run_cli("predict", sample_run, sample_dir / case, "--out", out, "--uncertainty", "--tta").code == 0
    flair = nib.load(str(sample_dir / case / f"{case}_flair.nii.gz"))
    for suffix in ("whole", "core", "enhance"):
        img = nib.load(str(out / f"{case}_unc_{suffix}.nii.gz"))
        data = np.asarray(img.dataobj)
        assert data.dtype == np.uint8 and data.shape == flair.shape and data.max() <= 100
        np.testing.assert_allclose(img.affine, flair.affine)
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / case).symlink_to(sample_dir / case)
    result = run_cli("score", out, ref, "--out", tmp_path / "s.csv", "--uncertainty", out)
    assert result.code == 0 and "| WT |" in result.out.split("QU-BraTS")[1]
    rows = list(csv.DictReader(open(tmp_path / "s_uncertainty.csv")))
    assert len(rows) == 3 and all(0 < float(r["score"]) <= 1 for r in rows)
    # Monte-Carlo dropout on the real case (the sample run keeps the default bottleneck dropout 0.2)
    mc = tmp_path / "mc"
    result = run_cli("predict", sample_run, sample_dir / case, "--out", mc, "--uncertainty", "--mc-dropout", "3")
    assert result.code == 0 and "3 Monte-Carlo dropout samples" in result.err
    img = nib.load(str(mc / f"{case}_unc_core.nii.gz"))
    assert img.shape == flair.shape and np.asarray(img.dataobj).max() <= 100
    np.testing.assert_allclose(img.affine, flair.affine)


@pytest.mark.slow  # trains a second tiny run
def test_predict_mc_dropout_maps_and_its_refusal(tiny_run, phantoms, run_cli, tmp_path):
    """--mc-dropout N on a run with dropout (TINY keeps the default 0.2): maps differ from the single run's and
    stderr names the source; on a run trained without dropout: one line naming the value and the fix."""
    single = _uncertainty_run(tiny_run, phantoms, run_cli, tmp_path / "single")
    out = tmp_path / "mc"
    result = run_cli("predict", tiny_run, phantoms / "Synth_001", "--out", out, "--uncertainty", "--mc-dropout", "4")
    assert result.code == 0 and "averaged over 4 Monte-Carlo dropout samples" in result.err
    a, b = (np.asarray(nib.load(str(d / "Synth_001_unc_whole.nii.gz")).dataobj) for d in (single, out))
    assert a.shape == b.shape and not np.array_equal(a, b)

    from brats_unet.config import load_config
    from brats_unet.train.loop import train
    from tests.conftest import TINY

    plain = tmp_path / "nodrop"
    train(load_config(overrides=TINY + ["model.dropout=0", f"data.cache_dir={tmp_path / 'c'}"]), phantoms, plain,
          progress=False)
    result = run_cli("predict", plain, phantoms / "Synth_001", "--out", tmp_path / "x", "--mc-dropout", "4")
    assert result.code == 2 and len(result.error_lines) == 1
    assert "eval.mc_dropout=4" in result.error_lines[0] and "has no dropout" in result.error_lines[0]
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())
