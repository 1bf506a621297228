"""The Python API on the real sample: arrays in, the same masks as the command line; scores as `score`."""

import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

import brats_unet as bu
from brats_unet.evaluation.scoring import score_folders


@pytest.mark.slow
def test_import_is_light_and_exports_the_api():
    code = "import sys, brats_unet as b; print('torch' in sys.modules); b.load_run; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]  # torch arrives with the first use of the API, not with the import
    assert {"load_run", "load_runs", "predict_arrays", "score", "train", "evaluate"} <= set(bu.__all__)
    with pytest.raises(AttributeError):
        bu.no_such_thing  # noqa: B018


def _volumes(case_dir):
    cid = case_dir.name
    imgs = {m: nib.load(str(case_dir / f"{cid}_{m}.nii.gz")) for m in ("flair", "t1ce")}
    return {m: np.asarray(i.dataobj) for m, i in imgs.items()}, imgs["flair"].affine


@pytest.mark.slow
def test_predict_arrays_equals_the_cli(sample_run, sample_dir, run_cli, tmp_path):
    case = sample_dir / "Brats18_TCIA02_135_1"
    assert run_cli("predict", sample_run, case, "--out", tmp_path, "--quiet").code == 0
    written = np.asarray(nib.load(str(tmp_path / f"{case.name}_seg.nii.gz")).dataobj)
    run = bu.load_run(sample_run)
    images, affine = _volumes(case)
    labels, probs = bu.predict_arrays(run, images, affine, probabilities=True)
    assert labels.dtype == np.uint8 and labels.shape == (240, 240, 155)
    assert np.array_equal(labels, written)
    assert probs.shape == (4, 240, 240, 155) and np.allclose(probs.sum(0), 1, atol=1e-3)  # outside the box too
    twice = bu.load_runs([sample_run, sample_run])  # an ensemble of one run twice: the run's own answer
    assert (bu.predict_arrays(twice, images, affine) != labels).sum() <= 10
    as_2023 = bu.predict_arrays(run, images, affine, labels="brats2023")
    assert np.array_equal(as_2023 == 3, labels == 4) and not (as_2023 == 4).any()


def test_predict_arrays_names_a_missing_or_unknown_modality(sample_run, sample_dir):
    run = bu.load_run(sample_run)
    images, affine = _volumes(sample_dir / "Brats18_TCIA02_135_1")
    with pytest.raises(bu.api.DataError, match="modality 't1ce' missing"):
        bu.predict_arrays(run, {"flair": images["flair"]}, affine)
    with pytest.raises(bu.api.DataError, match="unknown modality 'T1Gd'"):
        bu.predict_arrays(run, {**images, "T1Gd": images["flair"]}, affine)


def test_score_equals_the_score_command(sample_dir, tmp_path):
    case = sample_dir / "Brats18_TCIA02_135_1"
    ref = np.asarray(nib.load(str(case / f"{case.name}_seg.nii.gz")).dataobj)
    pred = ref.copy()
    pred[ref == 4] = 1  # enhancing called core: ET drops, WT and TC stay
    nib.save(nib.Nifti1Image(pred, nib.load(str(case / f"{case.name}_seg.nii.gz")).affine),
             str(tmp_path / f"{case.name}_seg.nii.gz"))
    scores = bu.score(pred, ref)
    rows = {r["region"]: r for r in score_folders(tmp_path, case)}
    assert scores["WT"]["dice"] == 1.0 and scores["ET"]["dice"] == 0.0
    for region in ("WT", "TC", "ET"):
        for key in ("dice", "hd95", "sensitivity"):
            assert scores[region][key] == pytest.approx(rows[region][key])
