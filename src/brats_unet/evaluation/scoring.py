"""``brats-unet score``: find predicted and reference segmentation NIfTIs, match them by case id, score each pair.

Whole-region ("legacy") scores follow the chosen convention (``metrics.regions``); lesion-wise scores follow
the same evaluator generation (``metrics.lesions``): the 2023-2024 organisers' code for ``brats2020`` and
``brats2023``, ``brats-evaluation`` (panoptica) for ``brats2025``. Their columns carry the names the
organisers' own output gives them, so a CSV can be set beside a leaderboard export.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np

from ..brats import AFFINE_TOL, SUBCHALLENGES, LabelScheme, get_scheme
from ..data.discovery import Source, classify, discover_cases, is_nifti, nifti_stem
from ..data.volumes import open_image, read_array, spacing
from ..errors import DataError
from ..metrics.lesions import lesionwise_2023, lesionwise_panoptica
from ..metrics.regions import score_masks

SUFFIXES = ("_seg", "-seg", "_pred", "-pred", "_segm")
CHALLENGE_NAME = re.compile(r"BraTS-(GLI|SSA|MEN|PED|MET)-\d+", re.IGNORECASE)


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


def subchallenge_of(case_ids: Sequence[str], lesionwise: str) -> Optional[str]:
    """The sub-challenge whose lesion-wise parameters apply: ``lesionwise`` itself, None for "none", and for
    "auto" the one all case ids name (``BraTS-GLI-00001-000``), else None."""
    if lesionwise == "none":
        return None
    if lesionwise != "auto":
        return lesionwise
    found = {m.group(1).upper() if (m := CHALLENGE_NAME.search(c)) else None for c in case_ids}
    return found.pop() if len(found) == 1 and None not in found else None


def _load(path: Path, scheme: LabelScheme, case_id: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """(edition label codes, affine, spacing) of a segmentation file; DataError on labels outside the scheme."""
    raw = read_array(Source(path))
    problem = scheme.label_problem(raw)
    if problem:
        raise DataError(f"case {case_id}: {path}: {problem}")
    return raw.astype(np.int16), open_image(Source(path)).affine, spacing(Source(path))


def lesion_scores(pred: np.ndarray, ref: np.ndarray, mm: Sequence[float], convention: str, challenge: str,
                  legacy: dict) -> dict:
    """One region's lesion-wise columns, named as the convention's evaluator names them (``tables.LESION_COLUMNS``).
    The legacy scores already follow the convention (brats2025: 373 where panoptica says inf)."""
    if convention == "brats2025":
        return lesionwise_panoptica(pred, ref, mm) | {"global_dsc": legacy["dice"], "global_hd95": legacy["hd95"]}
    dilation, threshold = SUBCHALLENGES[challenge]
    lw = lesionwise_2023(pred, ref, mm, dilation, threshold)
    return {"Num_TP": lw["tp"], "Num_FP": lw["fp"], "Num_FN": lw["fn"], "Legacy_Dice": legacy["dice"],
            "Legacy_HD95": legacy["hd95"], "Lesion_Wise_Score_Dice": lw["lesion_dice"],
            "Lesion_Wise_Score_HD95": lw["lesion_hd95"]}


def score_arrays(case_id: str, pred: np.ndarray, ref: np.ndarray, mm: Sequence[float], scheme: LabelScheme,
                 convention: str = "brats2020", method: str = "auto", challenge: Optional[str] = None) -> list[dict]:
    """Rows (one per region of the scheme) for two label maps in the scheme's codes."""
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from reference {ref.shape}")
    rows = []
    for region, codes in scheme.region_codes().items():
        p, r = np.isin(pred, codes), np.isin(ref, codes)
        row = {"case": case_id, "region": region, **score_masks(p, r, mm, convention, method)}
        if challenge is not None:
            row |= lesion_scores(p, r, mm, convention, challenge, row)
        rows.append(row)
    return rows


def score_pair(case_id: str, pred_path: Path, ref_path: Path, scheme: LabelScheme, convention: str,
               method: str = "auto", challenge: Optional[str] = None) -> list[dict]:
    """Rows (one per region) for one case; DataError naming the case on geometry mismatch."""
    pred, pred_affine, _ = _load(pred_path, scheme, case_id)
    ref, ref_affine, mm = _load(ref_path, scheme, case_id)
    if pred.shape != ref.shape:
        raise DataError(f"case {case_id}: prediction shape {pred.shape} differs from reference {ref.shape} "
                        f"({pred_path})")
    if np.abs(pred_affine - ref_affine).max() > AFFINE_TOL:
        raise DataError(f"case {case_id}: prediction affine differs from the reference ({pred_path})")
    return score_arrays(case_id, pred, ref, mm, scheme, convention, method, challenge)


def score_folders(pred_dir: str | Path, ref_dir: str | Path, labels: str = "brats2020",
                  convention: str = "brats2020", progress: bool = False, method: str = "auto",
                  lesionwise: str = "auto") -> list[dict]:
    """Score every reference case; DataError if a case has no prediction or no case matches.

    ``lesionwise``: a sub-challenge (GLI, SSA, MEN, PED, MET), "none", or "auto" (from BraTS-XXX case names).
    """
    scheme = get_scheme(labels)
    preds, refs = find_segs(pred_dir), find_segs(ref_dir)
    if not refs:
        raise DataError(f"{ref_dir}: no reference segmentations found")
    missing = sorted(set(refs) - set(preds))
    if missing:
        raise DataError(f"case {missing[0]}: no prediction in {pred_dir} ({len(missing)} case(s) missing)")
    challenge = subchallenge_of(sorted(refs), lesionwise)
    from tqdm.auto import tqdm

    rows = []
    for cid in tqdm(sorted(refs), desc="score", unit="case", disable=not progress):
        rows += score_pair(cid, preds[cid], refs[cid], scheme, convention, method, challenge)
    return rows
