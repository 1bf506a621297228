"""Prediction files keep the input's geometry: affine, header fields and uint8 labels, never scaled."""

import nibabel as nib
import numpy as np

from brats_unet.infer.predict import write_seg


def test_write_seg_keeps_affine_header_and_dtype(tmp_path):
    affine = np.array([[-0.9, 0.0, 0.1, 120.0], [0.0, -1.1, 0.0, 130.5], [0.05, 0.0, 1.2, -70.0], [0, 0, 0, 1]])
    ref_img = nib.Nifti1Image(np.arange(6 * 7 * 5, dtype=np.int16).reshape(6, 7, 5), affine)
    ref_img.header.set_qform(affine, code=1)
    ref_img.header.set_sform(affine, code=2)
    ref_img.header.set_xyzt_units("mm", "sec")
    ref_img.header["descrip"] = b"reference scan"
    ref_img.header.set_slope_inter(2.0, 10.0)  # image scaling must not reach the label file
    ref = tmp_path / "case_flair.nii.gz"
    nib.save(ref_img, str(ref))
    labels = np.random.default_rng(0).choice([0, 1, 2, 4], size=(6, 7, 5)).astype(np.uint8)

    out = write_seg(labels, ref, tmp_path / "out" / "case_seg.nii.gz")

    img, src = nib.load(str(out)), nib.load(str(ref))
    assert np.array_equal(img.affine, src.affine)
    assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 2
    assert np.allclose(img.header.get_qform(), src.header.get_qform())
    assert img.header.get_zooms() == src.header.get_zooms()
    assert img.header.get_xyzt_units() == ("mm", "sec")
    assert bytes(img.header["descrip"]).rstrip(b"\0") == b"reference scan"
    assert img.get_data_dtype() == np.uint8
    assert np.array_equal(np.asarray(img.dataobj), labels)
    assert not list((tmp_path / "out").glob(".*"))  # no temporary file left beside it
