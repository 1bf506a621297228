"""Reading NIfTI volumes of a case (nibabel), with errors that name the file and the fix.

Nothing read here is silently wrong: non-finite voxels, modalities on different grids and unreadable
files are refused (non-finite voxels may be replaced by 0 on explicit request, with a warning).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from ..brats import AFFINE_TOL, LabelScheme
from ..errors import DataError, cause
from .discovery import Case, Source


def _missing(path: Path) -> str:
    if path.is_symlink():
        return f"{path}: dangling symbolic link to {path.readlink()} (the target does not exist)"
    return f"{path}: file not found"


def background_value(vol: np.ndarray) -> float:
    """The value that fills the volume's border (its six faces): 0 for skull-stripped BraTS volumes, about -3.6
    for one z-scored by another pipeline. The most frequent border value where it fills at least half of the
    border; else 0 (a border of noise: nothing to learn from it)."""
    faces = np.concatenate([vol[[0, -1]].ravel(), vol[:, [0, -1]].ravel(), vol[:, :, [0, -1]].ravel()])
    values, counts = np.unique(faces, return_counts=True)
    best = int(counts.argmax())
    return float(values[best]) if counts[best] >= 0.5 * faces.size else 0.0


def open_image(source: Source) -> nib.Nifti1Image:
    """Open a NIfTI header (lazy); DataError naming the file if it cannot be read."""
    if source.image is not None:
        return source.image
    path = Path(source.path)
    try:
        return nib.load(str(path))  # type: ignore[return-value]
    except FileNotFoundError:
        raise DataError(_missing(path)) from None
    except OSError as exc:  # permission denied, a folder named like a file, I/O errors
        raise DataError(f"{path}: cannot read: {cause(exc)}") from None
    except Exception as exc:  # nibabel raises many types for corrupt headers
        raise DataError(f"{path}: unreadable NIfTI ({exc.__class__.__name__}: {exc})") from None


def spacing(source: Source) -> tuple[float, float, float]:
    """Voxel spacing (mm) of the first three axes, from the header."""
    return tuple(float(z) for z in open_image(source).header.get_zooms()[:3])  # type: ignore[return-value]


def read_array(source: Source) -> np.ndarray:
    """The voxel array (3D, original dtype) of a source; DataError for truncated/corrupt data."""
    img = open_image(source)
    try:
        data = np.asarray(img.dataobj)
    except Exception as exc:  # truncated gzip: EOFError, zlib.error, ValueError...
        raise DataError(f"{source.path}: cannot read voxel data ({exc.__class__.__name__}: {exc})") from None
    if source.channel is not None:
        if data.ndim != 4 or data.shape[3] <= source.channel:
            raise DataError(f"{source.path}: expected a 4D file with channel {source.channel}, got shape {data.shape}")
        data = data[..., source.channel]
    if data.ndim != 3:
        raise DataError(f"{source.path}: expected a 3D volume, got shape {data.shape}")
    return data


def modality_source(case: Case, name: str) -> Source:
    """The source of one modality, or DataError naming the case and the missing modality."""
    if name not in case.images:
        have = ", ".join(sorted(case.images)) or "none"
        raise DataError(f"case {case.case_id}: modality '{name}' missing (found: {have})")
    return case.images[name]


def finite_image(vol: np.ndarray, source: Source, nonfinite: str = "error") -> np.ndarray:
    """``vol`` as float32, refusing NaN/inf voxels, or (``nonfinite="zero"``) setting them to 0 with a warning."""
    vol = vol.astype(np.float32)
    bad = ~np.isfinite(vol)
    if not bad.any():
        return vol
    n = int(bad.sum())
    if nonfinite != "zero":
        raise DataError(f"{source.path}: {n} non-finite voxels (NaN or inf); repair the file, or set "
                        "data.nonfinite=zero to read them as 0")
    print(f"warning: {source.path}: {n} non-finite voxels read as 0 (data.nonfinite=zero)", file=sys.stderr)
    vol[bad] = 0.0
    return vol


LABEL_CODES_MAX = 4  # the largest label code of any scheme (brats.py): an image holding only 0..4 is a label map


def refuse_label_map(vol: np.ndarray, source: Source) -> np.ndarray:
    """DataError when an image's voxels are all whole numbers in 0..4, not all 0 (a segmentation or a mask, not an MRI;
    an all-zero volume is reported as such elsewhere)."""
    if vol.dtype == bool:
        raise DataError(f"{source.path}: a boolean volume (a mask), not an MR image; give the modality's image")
    if np.issubdtype(vol.dtype, np.number) and vol.size and 0 <= vol.min() and 0 < vol.max() <= LABEL_CODES_MAX:
        if np.issubdtype(vol.dtype, np.integer) or bool(np.all(vol == np.round(vol))):
            values = sorted(np.unique(vol).tolist())
            raise DataError(f"{source.path}: holds only the values {values[:6]}, a label map or mask, not an MR "
                            "image; give the modality's image (segmentations go to --seg or *_seg.nii.gz)")
    return vol


def read_modalities(case: Case, names: tuple[str, ...], nonfinite: str = "error") -> np.ndarray:
    """Stack modalities as float32, shape (C, X, Y, Z); every one on the first one's grid. An image that is a
    label map (only whole values 0..4) is refused: it would be normalised and segmented as if it were MRI."""
    sources = [modality_source(case, n) for n in names]
    vols = [finite_image(refuse_label_map(read_array(s), s), s, nonfinite) for s in sources]
    for source, vol in zip(sources[1:], vols[1:]):
        check_grid(source, vol.shape, sources[0],
                   "the modalities must be co-registered on one grid (resample it first)")
    return np.stack(vols)


def grid_problem(source: Source, shape: tuple[int, ...], affine: np.ndarray, ref: Source,
                 ref_shape: tuple[int, ...], ref_affine: np.ndarray) -> str | None:
    """Why ``source`` (voxel array ``shape``, ``affine``) is not on ``ref``'s grid, naming both; None if it is."""
    if tuple(shape) != tuple(ref_shape):
        return f"{source.path}: shape {tuple(shape)} differs from {ref.path.name} {tuple(ref_shape)}"
    diff = float(np.abs(affine - ref_affine).max())
    if diff > AFFINE_TOL:
        return f"{source.path}: affine differs from {ref.path.name} by {diff:.3g} mm (> {AFFINE_TOL})"
    return None


def check_grid(source: Source, shape: tuple[int, ...], ref: Source, fix: str) -> None:
    """DataError naming ``source`` and ``fix`` unless its voxel array (``shape``) and affine match ``ref``'s grid."""
    ref_img = open_image(ref)
    problem = grid_problem(source, shape, open_image(source).affine, ref, ref_img.shape[:3], ref_img.affine)
    if problem is not None:
        raise DataError(f"{problem}; {fix}")


def read_brain(case: Case, like: str) -> np.ndarray | None:
    """The user's brain mask of ``case`` as bool (X, Y, Z) (non-zero = brain), checked against the grid of its
    modality ``like``; None when the case has none."""
    if case.brain is None:
        return None
    mask = read_array(case.brain)
    check_grid(case.brain, mask.shape, modality_source(case, like), "give the brain mask on the images' grid "
               "(resample it first)")
    brain = mask != 0
    if not brain.any():
        raise DataError(f"{case.brain.path}: the brain mask is empty (no non-zero voxel)")
    if brain.all():
        print(f"warning: {case.brain.path}: the brain mask covers the whole volume, so every voxel is normalised and "
              "segmented as brain; give the mask of the brain itself", file=sys.stderr)
    return brain


def read_seg(case: Case, scheme: LabelScheme | None = None, like: str | None = None) -> np.ndarray | None:
    """The segmentation in internal codes (uint8, (X, Y, Z)), or None when the case has none; checked against
    the grid of its modality ``like`` (default: the image predictions copy), as a label map on another grid
    would be scored or trained on voxel by voxel all the same."""
    if case.seg is None:
        return None
    raw = read_array(case.seg)
    ref = case.reference_source if like is None else modality_source(case, like)
    check_grid(case.seg, raw.shape, ref, "give the segmentation on the images' grid (resample it with "
               "nearest-neighbour interpolation first)")
    return (scheme or case.scheme).to_internal(raw, str(case.seg.path))
