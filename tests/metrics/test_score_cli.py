"""End-to-end ``brats-unet score`` on the real sample: reference = real segs, prediction = eroded segs."""

import csv

import nibabel as nib
import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from brats_unet.cli import main
from brats_unet.data.discovery import discover_cases

N = 3


@pytest.fixture(scope="module")
def folders(sample_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    ref, pred = root / "ref", root / "pred"
    ref.mkdir()
    pred.mkdir()
    expected = {}
    for case in discover_cases(sample_dir)[:N]:
        (ref / f"{case.case_id}_seg.nii.gz").symlink_to(case.seg.path.resolve())
        img = nib.load(str(case.seg.path))
        seg = np.asarray(img.dataobj)
        eroded = np.where(binary_erosion(seg > 0), seg, 0).astype(seg.dtype)  # one erosion of the tumour
        nib.save(nib.Nifti1Image(eroded, img.affine, img.header), str(pred / f"{case.case_id}_seg.nii.gz"))
        wt_p, wt_r = eroded > 0, seg > 0
        expected[case.case_id] = 2 * (wt_p & wt_r).sum() / (wt_p.sum() + wt_r.sum())
    return ref, pred, expected


@pytest.mark.slow
def test_score_real_sample(folders, tmp_path, capsys):
    ref, pred, expected = folders
    out = tmp_path / "scores.csv"
    assert main(["score", str(pred), str(ref), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3 * N and list(rows[0]) == ["case", "region", "dice", "iou", "hd95", "sensitivity",
                                                    "specificity", "precision", "mcc", "vol_pred_ml", "vol_ref_ml"]
    for row in rows:
        if row["region"] == "WT":
            assert float(row["dice"]) == pytest.approx(expected[row["case"]], abs=1e-6)
            assert 0.8 < float(row["dice"]) < 1 and 0 < float(row["hd95"]) <= 2.0
            assert float(row["sensitivity"]) < 1 and float(row["precision"]) == pytest.approx(1.0)
    assert "| WT | 3 |" in capsys.readouterr().out


def test_score_against_dataset_root_and_errors(folders, sample_dir, tmp_path, capsys):
    ref, pred, _ = folders
    # the real dataset root has 16 cases: 13 have no prediction -> exit 2 naming a case
    assert main(["score", str(pred), str(sample_dir), "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no prediction" in err and "case Brats18_" in err
    assert not (tmp_path / "s.csv").exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    first = sorted(ref.iterdir())[0]
    img = nib.load(str(first))
    nib.save(nib.Nifti1Image(np.zeros((10, 10, 10), np.uint8), img.affine), str(bad / first.name))
    one_ref = tmp_path / "one"
    one_ref.mkdir()
    (one_ref / first.name).symlink_to(first.resolve())
    assert main(["score", str(bad), str(one_ref), "--out", str(tmp_path / "x.csv")]) == 2
    assert "shape" in capsys.readouterr().err
