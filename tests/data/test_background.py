"""Inputs normalised by another pipeline (background not 0): the brain mask comes from the border value,
so such a case preprocesses and predicts as its raw original does, with a warning saying why."""

import nibabel as nib
import numpy as np
import pytest

from brats_unet.config import DataConfig
from brats_unet.data.discovery import case_from_files, discover_cases
from brats_unet.data.preprocess import background_value, normalise, preprocess_case
from brats_unet.data.volumes import read_seg
from brats_unet.metrics.regions import region_dice


def _zscored_elsewhere(case, folder):
    """FLAIR and T1ce z-scored with brain statistics by 'another pipeline': float32, background not 0."""
    files = {}
    for name in ("flair", "t1ce"):
        img = nib.load(case.images[name].path)
        vol = np.asarray(img.dataobj, np.float32)
        brain = vol != 0
        mean, sd = vol[brain].mean(), vol[brain].std()
        z = ((vol - mean) / sd).astype(np.float32)  # brain statistics applied to every voxel: background
        # becomes the constant -mean/sd (about -3 here), below every brain voxel as raw 0 is
        path = folder / f"{case.case_id}_{name}.nii.gz"
        nib.save(nib.Nifti1Image(z, img.affine), str(path))
        files[name] = path
    return files


def test_background_is_the_value_filling_the_border():
    vol = np.full((10, 12, 8), -3.6, np.float32)
    vol[3:7, 3:9, 2:6] = np.random.default_rng(0).normal(size=(4, 6, 4))
    assert background_value(vol) == pytest.approx(-3.6)
    assert background_value(np.pad(vol[3:7, 3:9, 2:6], 1)) == 0  # skull-stripped BraTS: 0
    noisy = np.random.default_rng(1).normal(size=(10, 12, 8))  # no constant border (not skull-stripped)
    assert background_value(noisy) == 0
    out = normalise(vol, "zscore")
    assert np.all(out[vol == np.float32(-3.6)] == 0)
    assert abs(out[vol != np.float32(-3.6)].mean()) < 1e-6


def test_a_case_normalised_elsewhere_preprocesses_as_the_raw_case(sample_dir, tmp_path, capsys):
    case = discover_cases(sample_dir)[0]
    other = case_from_files(_zscored_elsewhere(case, tmp_path), case.case_id, None)
    raw = preprocess_case(case, DataConfig(), with_seg=False).image.astype(np.float32)
    z = preprocess_case(other, DataConfig(), with_seg=False).image.astype(np.float32)
    assert np.abs(raw - z).max() < 0.02  # float16 rounding of the same normalised values
    err = capsys.readouterr().err
    assert "background" in err and "not 0" in err


def test_predict_on_a_case_normalised_elsewhere_scores_as_the_raw_case(sample_run, sample_dir, run_cli, tmp_path):
    case = discover_cases(sample_dir)[-1]  # a case the sample run did not train on (it used the first 5)
    files = _zscored_elsewhere(case, tmp_path)
    ref = read_seg(case)
    dice, wt = {}, {}
    for name, args in (("raw", ["--flair", case.images["flair"].path, "--t1ce", case.images["t1ce"].path]),
                       ("z", ["--flair", files["flair"], "--t1ce", files["t1ce"]])):
        result = run_cli("predict", sample_run, *args, "--case-id", case.case_id, "--out", tmp_path / name,
                         "--quiet", "--labels", "brats2020")
        assert result.code == 0, result.err
        pred = case.scheme.to_internal(np.asarray(nib.load(tmp_path / name / f"{case.case_id}_seg.nii.gz").dataobj))
        dice[name], wt[name] = region_dice(pred, ref), pred > 0
        if name == "z":
            assert "not 0" in result.err  # the user is told the input looks normalised by another pipeline
    assert wt["raw"].sum() > 100  # the raw case has a tumour mask to compare with (a quick run: a small one)
    agree = 2 * (wt["raw"] & wt["z"]).sum() / (wt["raw"].sum() + wt["z"].sum())
    assert agree >= 0.98, agree
    for region in ("WT", "TC", "ET"):
        assert abs(dice["z"][region] - dice["raw"][region]) <= 0.02, (region, dice)
