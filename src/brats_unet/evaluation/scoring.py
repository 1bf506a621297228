"""``brats-unet score``: find predicted and reference segmentation NIfTIs, match them by case id, score each pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..brats import AFFINE_TOL, LabelScheme, get_scheme
from ..data.discovery import Source, classify, discover_cases, is_nifti, nifti_stem
from ..data.volumes import open_image, read_array, spacing
from ..errors import DataError
from ..metrics.regions import score_case

SUFFIXES = ("_seg", "-seg", "_pred", "-pred", "_segm")


def case_id_of(path: Path) -> str:
    """Case id from a segmentation file name (``<case>_seg.nii.gz``, ``<case>-seg.nii.gz``, ``<case>.nii.gz``)."""
    stem = nifti_stem(path)
    for suffix in SUFFIXES:
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def find_segs(folder: str | Path) -> dict[str, Path]:
    """{case id: seg file} for a flat folder of seg files, or a case folder or dataset root (discovery).

    A folder holding modality images (``*_flair.nii.gz``...) is a case, not a folder of predictions.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"folder not found: {folder}")
    files = [p for p in sorted(folder.iterdir()) if is_nifti(p)]
    images = [p for p in files if (kind := classify(p)) is not None and kind[1] != "seg"]
    if files and not images and not (folder / "imagesTr").is_dir():
        return {case_id_of(p): p for p in files}
    return {c.case_id: c.seg.path for c in discover_cases(folder) if c.seg is not None}


def _load(path: Path, scheme: LabelScheme, case_id: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """(internal labels, affine, spacing) of a segmentation file."""
    labels = scheme.to_internal(read_array(Source(path)), f"case {case_id}: {path}")
    return labels, open_image(Source(path)).affine, spacing(Source(path))


def score_pair(case_id: str, pred_path: Path, ref_path: Path, scheme: LabelScheme, convention: str) -> list[dict]:
    """Rows (one per region) for one case; DataError naming the case on geometry mismatch."""
    pred, pred_affine, _ = _load(pred_path, scheme, case_id)
    ref, ref_affine, spacing = _load(ref_path, scheme, case_id)
    if pred.shape != ref.shape:
        raise DataError(f"case {case_id}: prediction shape {pred.shape} differs from reference {ref.shape} "
                        f"({pred_path})")
    if np.abs(pred_affine - ref_affine).max() > AFFINE_TOL:
        raise DataError(f"case {case_id}: prediction affine differs from the reference ({pred_path})")
    per_region = score_case(pred, ref, spacing, convention)
    return [{"case": case_id, "region": r, **m} for r, m in per_region.items()]


def score_folders(pred_dir: str | Path, ref_dir: str | Path, labels: str = "brats2020",
                  convention: str = "brats2020", progress: bool = False) -> list[dict]:
    """Score every reference case; DataError if a case has no prediction or no case matches."""
    scheme = get_scheme(labels)
    preds, refs = find_segs(pred_dir), find_segs(ref_dir)
    if not refs:
        raise DataError(f"{ref_dir}: no reference segmentations found")
    missing = sorted(set(refs) - set(preds))
    if missing:
        raise DataError(f"case {missing[0]}: no prediction in {pred_dir} ({len(missing)} case(s) missing)")
    from tqdm.auto import tqdm

    rows = []
    for cid in tqdm(sorted(refs), desc="score", unit="case", disable=not progress):
        rows += score_pair(cid, preds[cid], refs[cid], scheme, convention)
    return rows
