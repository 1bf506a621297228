"""Tiny NIfTI fixtures with the real naming of each BraTS release."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

SHAPE = (16, 16, 8)


def write_nifti(path: Path, data: np.ndarray, affine=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), str(path))
    return path


def image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vol = np.zeros(SHAPE, np.int16)
    vol[3:13, 3:13, 1:7] = rng.integers(100, 1000, (10, 10, 6))
    return vol


def seg(codes=(1, 2, 4)) -> np.ndarray:
    out = np.zeros(SHAPE, np.uint8)
    out[5:11, 5:11, 2:6] = codes[1]
    out[6:10, 6:10, 3:5] = codes[2]
    out[7:9, 7:9, 3:5] = codes[0]
    return out


def brats2020_case(root: Path, cid: str = "BraTS20_Training_001", ext: str = ".nii.gz", seg_name=None) -> Path:
    folder = root / cid
    for i, mod in enumerate(("flair", "t1", "t1ce", "t2")):
        write_nifti(folder / f"{cid}_{mod}{ext}", image(i))
    write_nifti(folder / (seg_name or f"{cid}_seg{ext}"), seg())
    return folder


def brats2023_case(root: Path, cid: str = "BraTS-GLI-00000-000") -> Path:
    folder = root / cid
    for i, mod in enumerate(("t2f", "t1n", "t1c", "t2w")):
        write_nifti(folder / f"{cid}-{mod}.nii.gz", image(i))
    write_nifti(folder / f"{cid}-seg.nii.gz", seg((1, 2, 3)))
    return folder


def msd_root(root: Path, n: int = 2) -> Path:
    for i in range(1, n + 1):
        vol = np.stack([image(k) for k in range(4)], axis=-1)
        write_nifti(root / "imagesTr" / f"BRATS_{i:03d}.nii.gz", vol)
        write_nifti(root / "labelsTr" / f"BRATS_{i:03d}.nii.gz", seg((2, 1, 3)))
        (root / "imagesTr" / f"._BRATS_{i:03d}.nii.gz").write_bytes(b"junk")  # macOS archive debris
    write_nifti(root / "imagesTs" / "BRATS_900.nii.gz", np.stack([image(k) for k in range(4)], axis=-1))
    return root
