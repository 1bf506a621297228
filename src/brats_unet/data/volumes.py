"""Reading NIfTI volumes of a case (nibabel), with errors that name the file."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from ..brats import LabelScheme
from ..errors import DataError
from .discovery import Case, Source


def open_image(source: Source) -> nib.Nifti1Image:
    """Open a NIfTI header (lazy); DataError naming the file if it cannot be read."""
    try:
        return nib.load(str(source.path))  # type: ignore[return-value]
    except FileNotFoundError:
        raise DataError(f"{source.path}: file not found") from None
    except Exception as exc:  # nibabel raises many types for corrupt headers
        raise DataError(f"{source.path}: unreadable NIfTI ({exc.__class__.__name__}: {exc})") from None


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


def read_modalities(case: Case, names: tuple[str, ...]) -> np.ndarray:
    """Stack modalities as float32, shape (C, X, Y, Z)."""
    vols = [read_array(modality_source(case, n)).astype(np.float32) for n in names]
    shapes = {v.shape for v in vols}
    if len(shapes) != 1:
        raise DataError(f"case {case.case_id}: modality shapes differ {sorted(shapes)}")
    return np.stack(vols)


def read_seg(case: Case, scheme: LabelScheme | None = None) -> np.ndarray | None:
    """The segmentation in internal codes (uint8, (X, Y, Z)), or None when the case has none."""
    if case.seg is None:
        return None
    raw = read_array(case.seg)
    return (scheme or case.scheme).to_internal(raw, str(case.seg.path))
