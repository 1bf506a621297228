"""Per-case BraTS region scores (WT, TC, ET, and an edition's extra regions) under the official conventions.

A convention (``brats.CONVENTIONS``) fixes what the organisers' evaluator of an era returns where masks are
empty and which HD95 it computes; applied to Dice, IoU and HD95 (other scores are NaN when undefined,
excluded from means):

* ``brats2020`` (default; the BraTS 2017-2021 reference as nnU-Net v1 implements it): both masks empty
  -> Dice 1, IoU 1, HD95 0; exactly one empty -> Dice 0, IoU 0, HD95 the image diagonal in mm
  (373.13 for 240 x 240 x 155 at 1 mm); HD95 pooled over both surfaces (medpy).
* ``brats2023`` (the 2023-2024 lesion-wise code's "legacy" scores): both empty -> 1 / 0; one empty ->
  Dice 0, HD95 374; HD95 the area-weighted robust Hausdorff distance of ``surface-distance``.
* ``brats2025`` (``brats-evaluation``, panoptica): both empty -> NaN (left out of means); masks that do
  not overlap -> Dice 0 and HD95 373; HD95 pooled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Optional

import numpy as np

from ..brats import CONVENTIONS, REGIONS
from .confusion import counts, scores
from .surface import hd95

COLUMNS = ("dice", "iou", "hd95", "sensitivity", "specificity", "precision", "mcc",
           "vol_pred_ml", "vol_ref_ml", "vol_diff_ml")


def diagonal_mm(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """The image diagonal in mm: brats2020's HD95 where one mask is empty (373.13 for 240x240x155 at 1 mm)."""
    return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing))))


def penalty(convention: str, shape: Sequence[int], spacing: Sequence[float]) -> float:
    """HD95 where a surface is missing: the convention's constant, or the grid's diagonal."""
    fixed = CONVENTIONS[convention].penalty
    return diagonal_mm(shape, spacing) if fixed is None else fixed


def both_empty_value(convention: str) -> float:
    """Dice/IoU when prediction and reference are both empty: 1 (brats2020, 2023) or NaN (brats2025)."""
    return CONVENTIONS[convention].both_empty[0]


def hd_method(convention: str, method: str = "auto") -> str:
    """The HD95 surface definition: ``method`` unless "auto", else the convention's."""
    return CONVENTIONS[convention].hd95 if method == "auto" else method


def score_masks(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float], convention: str = "brats2020",
                method: str = "auto") -> dict[str, float]:
    """All region metrics for two boolean masks; volumes in mL from the voxel spacing (mm)."""
    rules = CONVENTIONS[convention]
    tp, fp, fn, tn = counts(pred, ref)
    out = scores(tp, fp, fn, tn)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    out.update(vol_pred_ml=(tp + fp) * voxel_ml, vol_ref_ml=(tp + fn) * voxel_ml)
    out["vol_diff_ml"] = out["vol_pred_ml"] - out["vol_ref_ml"]
    empty_p, empty_r = tp + fp == 0, tp + fn == 0
    if empty_p and empty_r:
        out["dice"], out["hd95"] = rules.both_empty
        out["iou"] = out["dice"]
    elif empty_p or empty_r or (rules.no_overlap_penalty and tp == 0):
        out["dice"], out["iou"], out["hd95"] = 0.0, 0.0, penalty(convention, np.shape(pred), spacing)
    else:
        out["hd95"] = hd95(pred, ref, spacing, hd_method(convention, method))
    return {k: out[k] for k in COLUMNS}


def score_case(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float], convention: str = "brats2020",
               method: str = "auto") -> dict[str, dict[str, float]]:
    """{region: metrics} for two internal-code label maps (0 bg, 1 core, 2 edema, 3 enhancing)."""
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from reference {ref.shape}")
    return {name: score_masks(np.isin(pred, codes), np.isin(ref, codes), spacing, convention, method)
            for name, codes in REGIONS.items()}


def region_dice(pred: np.ndarray, ref: np.ndarray, convention: str = "brats2020") -> dict[str, float]:
    """Dice per region only (cheap: used every epoch on validation cases)."""
    out = {}
    for name, codes in REGIONS.items():
        p, r = np.isin(pred, codes), np.isin(ref, codes)
        tp, fp, fn, _ = counts(p, r)
        if tp + fp + fn == 0:
            out[name] = both_empty_value(convention)
        else:
            out[name] = 2 * tp / (2 * tp + fp + fn)
    return out


def summarise(values: Iterable[Optional[float]]) -> dict[str, float]:
    """mean, sd (ddof=1), median and n over cases, ignoring NaN."""
    arr = np.asarray([v for v in values if v is not None], float)
    arr = arr[~np.isnan(arr)]
    if not len(arr):
        return {"mean": math.nan, "sd": math.nan, "median": math.nan, "n": 0}
    sd = float(arr.std(ddof=1)) if len(arr) > 1 else math.nan
    return {"mean": float(arr.mean()), "sd": sd, "median": float(np.median(arr)), "n": int(len(arr))}
