"""A BraTS 2024-style case (MNI grid 182 x 218 x 182, GLI labels 0-4 with resection cavity) through
``check``, ``predict`` and ``score``; challenge file names; 2023 modality names for explicit files."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest

from brats_unet.data.discovery import case_from_files
from brats_unet.data.synth import phantom

SHAPE = (182, 218, 182)
CASE = "BraTS-GLI-00001-000"
TOKENS = {"flair": "t2f", "t1": "t1n", "t1ce": "t1c", "t2": "t2w"}


@pytest.fixture(scope="module")
def gli2024(tmp_path_factory):
    root = tmp_path_factory.mktemp("gli2024")
    images, seg = phantom(SHAPE, np.random.default_rng(3))
    seg[seg == 4] = 3  # 2023+ codes: ET = 3
    tumour = np.argwhere(seg > 0)
    far = tuple(int(v) for v in (tumour.min(0) + tumour.max(0)) // 2)
    # a resection cavity on the brain's other side: label 4, outside WT/TC/ET
    x = SHAPE[0] - far[0]
    seg[x - 4:x + 4, far[1] - 4:far[1] + 4, far[2] - 4:far[2] + 4] = 4
    assert (seg == 4).sum() > 0
    folder = root / CASE
    folder.mkdir()
    for name, vol in {**images, "seg": seg}.items():
        token = TOKENS.get(name, name)
        nib.save(nib.Nifti1Image(vol, np.eye(4)), str(folder / f"{CASE}-{token}.nii.gz"))
    return root


@pytest.mark.slow
def test_check_accepts_the_2024_scheme_and_hints_at_it(gli2024, run_cli):
    assert run_cli("check", gli2024, "--labels", "brats2024-gli").code == 0
    outcome = run_cli("check", gli2024)  # detected as the 2023 edition, whose codes stop at 3
    assert outcome.code == 2 and "--labels brats2024-gli" in outcome.out + outcome.err


@pytest.mark.slow
def test_predict_and_score_a_2024_case(gli2024, tiny_run, tmp_path, run_cli):
    out = tmp_path / "pred"
    assert run_cli("predict", tiny_run, gli2024, "--out", out, "--naming", "challenge", "--quiet").code == 0
    written = out / f"{CASE}.nii.gz"  # the name the portals validate
    img = nib.load(str(written))
    assert img.shape == SHAPE and set(np.unique(np.asarray(img.dataobj))) <= {0, 1, 2, 3}
    table = tmp_path / "scores.csv"
    assert run_cli("score", out, gli2024, "--labels", "brats2024-gli", "--out", table, "--quiet").code == 0
    rows = list(csv.DictReader(table.open()))
    assert [r["region"] for r in rows] == ["WT", "TC", "ET", "RC"]
    rc = rows[3]
    assert float(rc["dice"]) == 0 and float(rc["vol_ref_ml"]) == pytest.approx(0.512)  # never predicted
    assert rc["Num_FN"] == "1" and float(rc["Lesion_Wise_Score_Dice"]) == 0  # GLI parameters from the name
    assert float(rc["hd95"]) == pytest.approx(
        np.sqrt(182**2 + 218**2 + 182**2))  # brats2020 penalty: this grid's diagonal, not 373.13
    assert "Lesion_Wise_Score_Dice" in table.with_suffix(".md").read_text()
    table25 = tmp_path / "scores25.csv"
    assert run_cli("score", out, gli2024, "--labels", "brats2024-gli", "--convention", "brats2025",
                   "--out", table25, "--quiet").code == 0
    rows25 = list(csv.DictReader(table25.open()))
    assert "lesionwise_dsc_mean" in rows25[0] and float(rows25[3]["global_hd95"]) == 373


def test_explicit_files_take_the_edition_from_names_or_labels(gli2024, tmp_path):
    t2f = gli2024 / CASE / f"{CASE}-t2f.nii.gz"
    assert case_from_files({"flair": t2f}).edition == "brats2023"  # ET written as 3, not 4
    assert case_from_files({"flair": t2f}).case_id == CASE
    assert case_from_files({"flair": t2f}, edition="brats2024-gli").edition == "brats2024-gli"
    assert case_from_files({"flair": tmp_path / "scan.nii.gz"}).edition == "brats2020"


@pytest.mark.slow
def test_2023_modality_names_are_aliases(gli2024, tiny_run, tmp_path, run_cli):
    folder = gli2024 / CASE
    out = tmp_path / "explicit"
    outcome = run_cli("predict", tiny_run, "--t2f", folder / f"{CASE}-t2f.nii.gz", "--t1c",
                      folder / f"{CASE}-t1c.nii.gz", "--out", out, "--naming", "challenge", "--quiet")
    assert outcome.code == 0 and (out / f"{CASE}.nii.gz").exists()
