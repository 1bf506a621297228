"""Ways to damage a case, each returning the text the error must name (a file name, a case id, a key).

Every function takes the dataset root and the case folder to damage (a copy: the originals are never
touched) and changes it as a user's broken download, a bad conversion or a mix-up would.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np


def _file(case: Path, kind: str) -> Path:
    return next(case.glob(f"*_{kind}.nii*"))


def _rewrite(path: Path, change: Callable[[np.ndarray], np.ndarray], dtype=None, affine=None) -> str:
    img = nib.load(str(path))
    data = change(np.asarray(img.dataobj).astype(dtype or img.get_data_dtype()))
    out = nib.Nifti1Image(data, img.affine if affine is None else affine)
    out.header.set_zooms(img.header.get_zooms()[: data.ndim] if data.ndim <= 3 else (1.0,) * data.ndim)
    path.unlink()
    nib.save(out, str(path))
    return path.name


def nan_voxels(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "flair"), lambda a: np.where(a > a.max() * 0.9, np.nan, a), np.float32)


def inf_voxels(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "t1ce"), lambda a: np.where(a > a.max() * 0.9, np.inf, a), np.float32)


def all_zero(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "flair"), np.zeros_like)


def image_4d(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "t1ce"), lambda a: np.stack([a, a], -1))


def image_2d(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "flair"), lambda a: a[:, :, 0])


def shape_mismatch(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "t1ce"), lambda a: a[:-2])


def affine_mismatch(root: Path, case: Path) -> str:
    path = _file(case, "t1ce")
    affine = nib.load(str(path)).affine.copy()
    affine[:3, 3] += 5.0
    return _rewrite(path, lambda a: a, affine=affine)


def truncated(root: Path, case: Path) -> str:
    path = _file(case, "flair")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path.name


def not_nifti(root: Path, case: Path) -> str:
    path = _file(case, "t1ce")
    path.write_bytes(gzip.compress(b"this is a text file, not an image " * 50))
    return path.name


def empty_file(root: Path, case: Path) -> str:
    path = _file(case, "flair")
    path.write_bytes(b"")
    return path.name


def missing_modality(root: Path, case: Path) -> str:
    _file(case, "t1ce").unlink()
    return "t1ce"


def dangling_symlink(root: Path, case: Path) -> str:
    path = _file(case, "flair")
    path.unlink()
    path.symlink_to(root / "nowhere" / path.name)
    return path.name


def mixed_up_file(root: Path, case: Path) -> str:
    """Case_A/Case_B_t1ce.nii.gz: another patient's file dropped into this folder."""
    other = next(d for d in sorted(root.iterdir()) if d.is_dir() and d != case)
    path = _file(case, "t1ce")
    wrong = case / path.name.replace(case.name, other.name)
    path.rename(wrong)
    return wrong.name


def second_flair(root: Path, case: Path) -> str:
    path = _file(case, "flair")
    twin = case / path.name.replace(".nii.gz", ".nii")
    nib.save(nib.load(str(path)), str(twin))
    return twin.name


def duplicate_case_id(root: Path, case: Path) -> str:
    shutil.copytree(case, root / f"{case.name}-copy")
    return case.name


def seg_nan(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "seg"), lambda a: np.where(a == 4, np.nan, a), np.float32)


def seg_non_integer(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "seg"), lambda a: np.where(a == 1, 1.5, a), np.float32)


def seg_unknown_label(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "seg"), lambda a: np.where(a == 4, 3, a))


def seg_shape_mismatch(root: Path, case: Path) -> str:
    return _rewrite(_file(case, "seg"), lambda a: a[:, :-3])


def root_is_a_file(root: Path, case: Path) -> str:
    shutil.rmtree(root)
    root.write_text("not a folder")
    return root.name


def empty_root(root: Path, case: Path) -> str:
    for d in list(root.iterdir()):
        shutil.rmtree(d)
    return root.name


IMAGE_KINDS = {f.__name__: f for f in (
    nan_voxels, inf_voxels, all_zero, image_4d, image_2d, shape_mismatch, affine_mismatch, truncated, not_nifti,
    empty_file, missing_modality, dangling_symlink, mixed_up_file, second_flair, duplicate_case_id,
    root_is_a_file, empty_root)}
SEG_KINDS = {f.__name__: f for f in (seg_nan, seg_non_integer, seg_unknown_label, seg_shape_mismatch)}
