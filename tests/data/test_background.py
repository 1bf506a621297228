"""Inputs normalised by another pipeline (background not 0): the brain mask comes from the border value,
so such a case preprocesses and predicts as its raw original does, with a warning saying why."""

import dataclasses

import nibabel as nib
import numpy as np
import pytest

from brats_unet.config import DataConfig
from brats_unet.data.discovery import Source, case_from_files, discover_cases
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


@pytest.mark.slow
def test_a_case_normalised_elsewhere_preprocesses_as_the_raw_case(sample_dir, tmp_path, capsys):
    case = discover_cases(sample_dir)[0]
    other = case_from_files(_zscored_elsewhere(case, tmp_path), case.case_id, None)
    raw = preprocess_case(case, DataConfig(), with_seg=False).image.astype(np.float32)
    z = preprocess_case(other, DataConfig(), with_seg=False).image.astype(np.float32)
    assert np.abs(raw - z).max() < 0.02  # float16 rounding of the same normalised values
    err = capsys.readouterr().err
    assert "background" in err and "not 0" in err


@pytest.mark.slow
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


def _noisy_background(case, folder):
    """FLAIR and T1ce z-scored elsewhere *and* resampled with noise: the background is no longer one value, so
    no border value can tell brain from background; plus the one brain mask such pipelines ship."""
    rng = np.random.default_rng(0)
    imgs = {name: nib.load(case.images[name].path) for name in ("flair", "t1ce")}
    vols = {name: np.asarray(img.dataobj, np.float32) for name, img in imgs.items()}
    brain = np.logical_or(*(vol != 0 for vol in vols.values()))  # one mask for the case
    files = {}
    for name, vol in vols.items():
        z = (vol - vol[vol != 0].mean()) / vol[vol != 0].std()
        z[~brain] += rng.normal(0, 0.05, int((~brain).sum()))
        files[name] = folder / f"{case.case_id}_{name}.nii.gz"
        nib.save(nib.Nifti1Image(z.astype(np.float32), imgs[name].affine), str(files[name]))
    mask = folder / f"{case.case_id}_brainmask.nii.gz"
    nib.save(nib.Nifti1Image(brain.astype(np.uint8), imgs["flair"].affine), str(mask))
    return files, mask


def test_a_given_brain_mask_sets_the_statistics_and_zeroes_the_rest(capsys):
    vol = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    brain = np.zeros(vol.shape, bool)
    brain[0, 0, :] = True  # voxels 0, 1, 2, 3: mean 1.5, sd sqrt(1.25)
    out = normalise(vol, "zscore", brain=brain)
    assert np.allclose(out[0, 0], (np.arange(4) - 1.5) / np.sqrt(1.25))
    assert np.all(out[~brain] == 0)
    assert capsys.readouterr().err == ""  # the user's mask: no guess to warn about
    normalise(vol, "zscore")  # border value 0 fills < half the border: every voxel but one is "brain"
    assert "give a brain mask" in capsys.readouterr().err


@pytest.mark.slow
def test_a_noisy_background_is_flagged_and_a_brain_mask_restores_the_raw_input(sample_dir, tmp_path, capsys):
    case = discover_cases(sample_dir)[0]
    files, mask = _noisy_background(case, tmp_path)
    raw = preprocess_case(case, DataConfig(), with_seg=False).image.astype(np.float32)
    capsys.readouterr()
    guessed = preprocess_case(case_from_files(files, case.case_id), DataConfig(), with_seg=False).image
    assert "--brain-mask" in capsys.readouterr().err  # without the mask: warned ...
    assert np.abs(raw - guessed.astype(np.float32)).mean() > 0.1  # ... and wrong: statistics of the whole volume
    masked = preprocess_case(case_from_files(files, case.case_id, brain=mask), DataConfig(), with_seg=False).image
    assert capsys.readouterr().err == ""
    raw_masked = dataclasses.replace(case, brain=Source(mask))  # the raw images under the same mask
    same = preprocess_case(raw_masked, DataConfig(), with_seg=False).image.astype(np.float32)
    assert np.abs(same - masked.astype(np.float32)).max() < 0.02  # float16 rounding of the same values
    # and the raw case as trained on (a mask per modality: its non-zero voxels) differs only at the brain's rim
    assert np.abs(raw - masked.astype(np.float32)).mean() < 0.01


@pytest.mark.slow
def test_predict_with_a_brain_mask_scores_as_the_raw_case(sample_run, sample_dir, run_cli, tmp_path):
    case = discover_cases(sample_dir)[-1]  # not one the sample run trained on
    files, mask = _noisy_background(case, tmp_path)
    ref, dice, wt = read_seg(case), {}, {}
    for name, extra in (("raw", ["--flair", case.images["flair"].path, "--t1ce", case.images["t1ce"].path]),
                        ("masked", ["--flair", files["flair"], "--t1ce", files["t1ce"], "--brain-mask", mask])):
        result = run_cli("predict", sample_run, *extra, "--case-id", case.case_id, "--out", tmp_path / name,
                         "--quiet", "--labels", "brats2020")
        assert result.code == 0, result.err
        pred = case.scheme.to_internal(np.asarray(nib.load(tmp_path / name / f"{case.case_id}_seg.nii.gz").dataobj))
        dice[name], wt[name] = region_dice(pred, ref), pred > 0
    assert wt["raw"].sum() > 100  # the raw case has a tumour mask to compare with (a quick run: a small one)
    assert 2 * (wt["raw"] & wt["masked"]).sum() / (wt["raw"].sum() + wt["masked"].sum()) >= 0.98
    for region in ("WT", "TC", "ET"):
        assert abs(dice["masked"][region] - dice["raw"][region]) <= 0.02, (region, dice)


def test_a_brain_mask_off_the_grid_or_without_files_is_refused(sample_run, sample_dir, run_cli, tmp_path):
    case = discover_cases(sample_dir)[0]
    small = tmp_path / "small_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((10, 10, 10), np.uint8), np.eye(4)), str(small))
    flair, t1ce = case.images["flair"].path, case.images["t1ce"].path
    result = run_cli("predict", sample_run, "--flair", flair, "--t1ce", t1ce, "--brain-mask", small,
                     "--out", tmp_path / "a", "--quiet")
    assert result.code == 2 and "small_mask.nii.gz" in result.err and "grid" in result.err, result.err
    assert not any((tmp_path / "a").glob("*.nii.gz"))
    empty = tmp_path / "empty_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(nib.load(flair).shape, np.uint8), nib.load(flair).affine), str(empty))
    result = run_cli("predict", sample_run, "--flair", flair, "--t1ce", t1ce, "--brain-mask", empty,
                     "--out", tmp_path / "b", "--quiet")
    assert result.code == 2 and "empty" in result.err, result.err
    result = run_cli("predict", sample_run, sample_dir, "--brain-mask", small, "--out", tmp_path / "c")
    assert result.code == 2 and "explicit files" in result.err, result.err
