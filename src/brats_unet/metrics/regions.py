"""Per-case BraTS region scores (WT, TC, ET) with selectable empty-mask conventions.

Conventions, applied to Dice, IoU and HD95 (other scores are NaN when undefined, excluded from means):

* ``brats2020`` (default; the BraTS 2020-era reference as nnU-Net v1 implements it): both masks empty
  -> Dice 1, IoU 1, HD95 0; exactly one empty -> Dice 0, IoU 0, HD95 373.13 mm (the diagonal of a
  240 x 240 x 155 mm volume, sqrt(240^2 + 240^2 + 155^2)).
* ``brats2023``: both empty -> NaN (the case is excluded from that region's mean); one empty as above.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Optional

import numpy as np

from ..brats import REGIONS
from .confusion import counts, scores
from .surface import hd95

MAX_HD95 = math.sqrt(240**2 + 240**2 + 155**2)  # 373.13 mm
COLUMNS = ("dice", "iou", "hd95", "sensitivity", "specificity", "precision", "mcc",
           "vol_pred_ml", "vol_ref_ml", "vol_diff_ml")


def both_empty_value(convention: str) -> float:
    """Dice/IoU when prediction and reference are both empty: 1 (brats2020) or NaN (brats2023, excluded)."""
    return 1.0 if convention == "brats2020" else math.nan


def score_masks(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float], convention: str = "brats2020",
                hd_method: str = "pooled") -> dict[str, float]:
    """All region metrics for two boolean masks; volumes in mL from the voxel spacing (mm)."""
    tp, fp, fn, tn = counts(pred, ref)
    out = scores(tp, fp, fn, tn)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    out.update(vol_pred_ml=(tp + fp) * voxel_ml, vol_ref_ml=(tp + fn) * voxel_ml)
    out["vol_diff_ml"] = out["vol_pred_ml"] - out["vol_ref_ml"]
    empty_p, empty_r = tp + fp == 0, tp + fn == 0
    if empty_p and empty_r:
        both = both_empty_value(convention)
        out["dice"], out["iou"], out["hd95"] = both, both, 0.0 if convention == "brats2020" else math.nan
    elif empty_p or empty_r:
        out["dice"], out["iou"], out["hd95"] = 0.0, 0.0, MAX_HD95
    else:
        out["hd95"] = hd95(pred, ref, spacing, hd_method)
    return {k: out[k] for k in COLUMNS}


def score_case(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float],
               convention: str = "brats2020") -> dict[str, dict[str, float]]:
    """{region: metrics} for two internal-code label maps (0 bg, 1 core, 2 edema, 3 enhancing)."""
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from reference {ref.shape}")
    return {name: score_masks(np.isin(pred, codes), np.isin(ref, codes), spacing, convention)
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
