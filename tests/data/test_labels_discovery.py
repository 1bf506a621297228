import numpy as np
import pytest

from brats_unet.brats import BRATS2020, BRATS2023, MSD, get_scheme, region_masks
from brats_unet.data.discovery import case_from_files, discover_cases
from brats_unet.data.volumes import read_modalities, read_seg
from brats_unet.errors import ConfigError, DataError

from .helpers import brats2020_case, brats2023_case, msd_root, seg


@pytest.mark.parametrize("scheme", [BRATS2020, BRATS2023, MSD])
def test_label_scheme_round_trip(scheme):
    codes = np.array(scheme.codes * 3, dtype=np.uint8).reshape(3, 4)
    internal = scheme.to_internal(codes)
    assert set(np.unique(internal)) == {0, 1, 2, 3}
    np.testing.assert_array_equal(scheme.from_internal(internal), codes)


def test_editions_agree_on_regions():
    """The same anatomy coded by each edition gives the same internal labels and WT/TC/ET masks."""
    a = BRATS2020.to_internal(seg((1, 2, 4)))
    np.testing.assert_array_equal(a, BRATS2023.to_internal(seg((1, 2, 3))))
    np.testing.assert_array_equal(a, MSD.to_internal(seg((2, 1, 3))))
    masks = region_masks(a)
    assert masks["WT"].sum() > masks["TC"].sum() > masks["ET"].sum() > 0
    assert (masks["ET"] <= masks["TC"]).all() and (masks["TC"] <= masks["WT"]).all()


def test_unknown_label_and_scheme_errors():
    with pytest.raises(DataError, match=r"labels \[3\]"):
        BRATS2020.to_internal(np.array([0, 3]), "x.nii.gz")
    with pytest.raises(ConfigError, match="did you mean 'brats2023'"):
        get_scheme("brats2032")


def test_discover_brats2020_and_case_355_quirk(tmp_path):
    brats2020_case(tmp_path, "BraTS20_Training_001")
    brats2020_case(tmp_path, "BraTS20_Training_355", ext=".nii", seg_name="W39_1998.09.19_Segm.nii")
    (tmp_path / "name_mapping.csv").write_text("x")
    cases = discover_cases(tmp_path)
    assert [c.case_id for c in cases] == ["BraTS20_Training_001", "BraTS20_Training_355"]
    quirk = cases[1]
    assert quirk.seg.path.name == "W39_1998.09.19_Segm.nii" and set(quirk.images) == {"flair", "t1", "t1ce", "t2"}
    assert set(np.unique(read_seg(quirk))) == {0, 1, 2, 3}


def test_discover_brats2021(tmp_path):
    brats2020_case(tmp_path, "BraTS2021_00000")
    (case,) = discover_cases(tmp_path)
    assert case.edition == "brats2021" and case.scheme is BRATS2020 and case.case_id == "BraTS2021_00000"


def test_discover_brats2023(tmp_path):
    brats2023_case(tmp_path)
    (case,) = discover_cases(tmp_path)
    assert case.edition == "brats2023" and case.case_id == "BraTS-GLI-00000-000"
    assert case.images["flair"].path.name.endswith("-t2f.nii.gz")
    assert case.images["t1ce"].path.name.endswith("-t1c.nii.gz")
    assert 3 in np.unique(read_seg(case))


def test_discover_msd(tmp_path):
    msd_root(tmp_path)
    cases = discover_cases(tmp_path)
    assert [c.case_id for c in cases] == ["BRATS_001", "BRATS_002", "BRATS_900"]
    assert cases[2].seg is None and cases[0].images["t1ce"].channel == 2
    stack = read_modalities(cases[0], ("flair", "t1ce"))
    assert stack.shape == (2, 16, 16, 8)
    # MSD's edema (1) and non-enhancing (2) swap into internal edema (2) / core (1)
    np.testing.assert_array_equal(read_seg(cases[0]), BRATS2020.to_internal(seg((1, 2, 4))))


def test_single_case_folder_and_explicit_files(tmp_path):
    folder = brats2020_case(tmp_path, "BraTS20_Validation_007")
    (case,) = discover_cases(folder)
    assert case.case_id == "BraTS20_Validation_007"
    explicit = case_from_files({"flair": folder / "BraTS20_Validation_007_flair.nii.gz"})
    assert explicit.case_id == "BraTS20_Validation_007" and explicit.seg is None


def test_no_cases_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no BraTS cases"):
        discover_cases(tmp_path)
    with pytest.raises(DataError, match="not found"):
        discover_cases(tmp_path / "missing")
