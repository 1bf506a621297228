"""``brats-unet score``: score predicted segmentation NIfTIs against reference ones, matched by case id."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..data.discovery import Source, discover_cases, is_nifti, nifti_stem
from ..data.labels import get_scheme
from ..data.volumes import open_image, read_array
from ..errors import DataError
from ..io import atomic_path
from .regions import score_case, summarise

SUFFIXES = ("_seg", "-seg", "_pred", "-pred", "_segm")


def case_id_of(path: Path) -> str:
    """Case id from a segmentation file name (``<case>_seg.nii.gz``, ``<case>-seg.nii.gz``, ``<case>.nii.gz``)."""
    stem = nifti_stem(path)
    for suffix in SUFFIXES:
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def find_segs(folder: str | Path) -> dict[str, Path]:
    """{case id: seg file} for a flat folder of seg files, or a dataset root (case folders / MSD)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"folder not found: {folder}")
    flat = {case_id_of(p): p for p in sorted(folder.iterdir()) if is_nifti(p)}
    if flat and not (folder / "imagesTr").is_dir():
        return flat
    try:
        return {c.case_id: c.seg.path for c in discover_cases(folder) if c.seg is not None}
    except DataError:
        return {}


def _load(path: Path, scheme, case_id: str) -> tuple[np.ndarray, np.ndarray, tuple]:
    img = open_image(Source(path))
    labels = scheme.to_internal(read_array(Source(path)), f"case {case_id}: {path}")
    return labels, img.affine, img.header.get_zooms()[:3]


def score_pair(case_id: str, pred_path: Path, ref_path: Path, scheme, convention: str) -> list[dict]:
    """Rows (one per region) for one case; DataError naming the case on geometry mismatch."""
    pred, pred_affine, _ = _load(pred_path, scheme, case_id)
    ref, ref_affine, spacing = _load(ref_path, scheme, case_id)
    if pred.shape != ref.shape:
        raise DataError(f"case {case_id}: prediction shape {pred.shape} differs from reference {ref.shape} ({pred_path})")
    if np.abs(pred_affine - ref_affine).max() > 1e-3:
        raise DataError(f"case {case_id}: prediction affine differs from the reference ({pred_path})")
    per_region = score_case(pred, ref, spacing, convention)
    return [{"case": case_id, "region": r, **m} for r, m in per_region.items()]


def score_folders(pred_dir: str | Path, ref_dir: str | Path, labels: str = "brats2020",
                  convention: str = "brats2020") -> list[dict]:
    """Score every reference case; DataError if a case has no prediction or no case matches."""
    scheme = get_scheme(labels)
    preds, refs = find_segs(pred_dir), find_segs(ref_dir)
    if not refs:
        raise DataError(f"{ref_dir}: no reference segmentations found")
    missing = sorted(set(refs) - set(preds))
    if missing:
        raise DataError(f"case {missing[0]}: no prediction in {pred_dir} ({len(missing)} case(s) missing)")
    rows = []
    for cid in sorted(refs):
        rows += score_pair(cid, preds[cid], refs[cid], scheme, convention)
    return rows


def write_rows(rows: list[dict], path: str | Path, columns=None) -> None:
    """Write dict rows as CSV atomically."""
    columns = columns or list(rows[0])
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def summary_table(rows: list[dict], metrics=("dice", "hd95", "sensitivity", "specificity")) -> str:
    """Markdown table: region x metric, mean +- sd (median) over cases."""
    regions = list(dict.fromkeys(r["region"] for r in rows))
    lines = ["| region | n | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for region in regions:
        sub = [r for r in rows if r["region"] == region]
        cells = [_fmt(summarise(r[m] for r in sub)) for m in metrics]
        lines.append(f"| {region} | {len(sub)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(s: dict) -> str:
    if not s["n"]:
        return "n/a"
    sd = "" if math.isnan(s["sd"]) else f" ± {s['sd']:.3f}"
    return f"{s['mean']:.3f}{sd} ({s['median']:.3f})"


SCORE_COLUMNS = ["case", "region", "dice", "iou", "hd95", "sensitivity", "specificity", "precision", "mcc",
                 "vol_pred_ml", "vol_ref_ml"]
