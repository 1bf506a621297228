import numpy as np
import pytest

from brats_unet.cli import main

from .helpers import brats2020_case, image, seg, write_nifti


@pytest.mark.slow
def test_check_real_sample_is_clean(sample_dir, capsys):
    assert main(["check", str(sample_dir)]) == 0
    assert "16 case(s) checked, 0 problem(s)" in capsys.readouterr().err


def _bad_dataset(root):
    """One case per problem kind; returns {case: expected file name fragment}."""
    expected = {}
    c = brats2020_case(root, "C1_missing")
    (c / "C1_missing_t2.nii.gz").unlink()
    expected["C1_missing"] = "modality 't2' missing"
    c = brats2020_case(root, "C2_truncated")
    data = (c / "C2_truncated_t1.nii.gz").read_bytes()
    (c / "C2_truncated_t1.nii.gz").write_bytes(data[: len(data) // 2])
    expected["C2_truncated"] = "C2_truncated_t1.nii.gz"
    c = brats2020_case(root, "C3_shape")
    write_nifti(c / "C3_shape_t1ce.nii.gz", np.pad(image(), ((0, 0), (0, 0), (0, 1))))
    expected["C3_shape"] = "C3_shape_t1ce.nii.gz: shape"
    c = brats2020_case(root, "C4_affine")
    write_nifti(c / "C4_affine_t2.nii.gz", image(), affine=np.diag([1.0, 1.0, 1.1, 1.0]))
    expected["C4_affine"] = "C4_affine_t2.nii.gz: affine differs"
    c = brats2020_case(root, "C5_4d")
    write_nifti(c / "C5_4d_flair.nii.gz", np.stack([image(), image(1)], axis=-1))
    expected["C5_4d"] = "C5_4d_flair.nii.gz: expected a 3D volume"
    c = brats2020_case(root, "C6_nan")
    vol = image().astype(np.float32)
    vol[4, 4, 4] = np.nan
    write_nifti(c / "C6_nan_t1.nii.gz", vol)
    expected["C6_nan"] = "C6_nan_t1.nii.gz: 1 non-finite"
    c = brats2020_case(root, "C7_zero")
    write_nifti(c / "C7_zero_t1ce.nii.gz", np.zeros((16, 16, 8), np.int16))
    expected["C7_zero"] = "C7_zero_t1ce.nii.gz: all voxels are zero"
    c = brats2020_case(root, "C8_labels")
    write_nifti(c / "C8_labels_seg.nii.gz", seg((1, 2, 3)))
    expected["C8_labels"] = "C8_labels_seg.nii.gz: labels [3]"
    c = brats2020_case(root, "C9_seg_as_image")
    write_nifti(c / "C9_seg_as_image_flair.nii.gz", seg())
    expected["C9_seg_as_image"] = "C9_seg_as_image_flair.nii.gz: holds only the values [0, 1, 2, 4], a label map"
    c = brats2020_case(root, "C10_tiny")
    for m in ("flair", "t1", "t1ce", "t2"):
        write_nifti(c / f"C10_tiny_{m}.nii.gz", np.full((1, 1, 1), 300, np.int16))
    write_nifti(c / "C10_tiny_seg.nii.gz", np.zeros((1, 1, 1), np.uint8))
    expected["C10_tiny"] = "C10_tiny_flair.nii.gz: shape (1, 1, 1) spans 0.001 ml, too small to hold a brain"
    return expected


def test_check_lists_every_problem_naming_the_file(tmp_path, capsys):
    expected = _bad_dataset(tmp_path)
    assert main(["check", str(tmp_path), "--workers", "1"]) == 2
    lines = capsys.readouterr().out.strip().splitlines()
    for case, fragment in expected.items():
        hits = [line for line in lines if fragment in line]
        assert hits, f"no line for {case}: {fragment!r} in {lines}"
    assert len(lines) == len(expected) + 3, lines  # C10_tiny: one line per modality


def test_check_good_synthetic_case(tmp_path):
    brats2020_case(tmp_path, "Ok_1")
    assert main(["check", str(tmp_path), "--workers", "1"]) == 0

