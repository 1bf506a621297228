"""The QU-BraTS 2020 uncertainty score (Mehta et al., "QU-BraTS: MICCAI BraTS 2020 Challenge on Quantifying
Uncertainty in Brain Tumor Segmentation", MELBA 2022), computed as the organisers' ``BraTS_Seg_Uncertainty.py``
computes it.

Per region (WT, TC, ET) an uncertainty map holds 0 (certain) .. 100 (most uncertain). For each threshold
``t`` in 100, 97.5, ..., 0 (``num_points`` = 40 steps) the voxels with uncertainty above ``t`` are filtered out:

* Dice of the remaining (certain) voxels, over the whole volume (1 when both filtered masks are empty);
* FTP: the share of the true positives inside the brain mask that were filtered out;
* FTN: the share of the true negatives inside the brain mask that were filtered out.

Each curve's AUC is the trapezoidal area over the thresholds divided by 100, and the score is
``(AUC_Dice + (1 - AUC_FTP) + (1 - AUC_FTN)) / 3``: high when filtering uncertain voxels raises Dice without
throwing away correct ones. As the organisers' code: ratios add float32's eps to the denominator, the brain mask
is a given volume's non-zero voxels (their README: the T1 image).

Counting is done once per category (TP, FP, FN inside and outside the brain, TN inside it), on a cumulative
histogram of integer maps or the sorted values of others, so all thresholds cost one pass instead of one each.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float32).eps)
NUM_POINTS = 40


def thresholds(num_points: int = NUM_POINTS) -> np.ndarray:
    """The organisers' cut-offs, 100 down to 0 in ``num_points`` equal steps (41 values for 40)."""
    return np.arange(0.0, 100.0 + EPS, 100.0 / num_points)[::-1]


def _certain_counts(unc: np.ndarray, mask: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """For each cut ``t``: how many voxels of ``mask`` have uncertainty <= t (kept as certain).

    Integer maps (the uint8 files) count by histogram: an integer is <= t exactly when it is <= floor(t), so
    the cumulative histogram at floor(t) is the count, without sorting the millions of brain voxels."""
    values = unc[mask]
    if np.issubdtype(values.dtype, np.integer) and (values.size == 0 or values.min() >= 0):
        below = np.cumsum(np.bincount(values.ravel(), minlength=1))
        return below[np.clip(np.floor(cuts).astype(np.int64), 0, len(below) - 1)].astype(np.float64)
    return np.searchsorted(np.sort(values.astype(np.float64)), cuts, side="right").astype(np.float64)


def curves(ref: np.ndarray, pred: np.ndarray, unc: np.ndarray, brain: np.ndarray,
           cuts: np.ndarray) -> dict[str, np.ndarray]:
    """Dice, FTP and FTN at each cut for one binary region; arrays of ``len(cuts)``.

    Args:
        ref, pred: (X, Y, Z) bool region masks; unc: (X, Y, Z) uncertainty in 0..100; brain: (X, Y, Z) bool.
    """
    tp, fp, fn = ref & pred, ~ref & pred, ref & ~pred
    tp_c, fp_c, fn_c = (_certain_counts(unc, m, cuts) for m in (tp, fp, fn))
    union = 2 * tp_c + fp_c + fn_c
    dice = np.where(union == 0, 1.0, 2 * tp_c / np.where(union == 0, 1, union))
    tp_b, tn_b = tp & brain, ~ref & ~pred & brain
    n_tp, n_tn = float(tp_b.sum()), float(tn_b.sum())
    ftp = (n_tp - _certain_counts(unc, tp_b, cuts)) / (n_tp + EPS)
    ftn = (n_tn - _certain_counts(unc, tn_b, cuts)) / (n_tn + EPS)
    return {"dice": dice, "ftp": ftp, "ftn": ftn}


def auc(cuts: np.ndarray, values: np.ndarray) -> float:
    """Trapezoidal area under ``values`` over ``cuts`` (either order), divided by 100."""
    order = np.argsort(cuts)
    x, y = cuts[order], values[order]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / 100.0)


def qubrats(ref: np.ndarray, pred: np.ndarray, unc: np.ndarray, brain: np.ndarray,
            num_points: int = NUM_POINTS) -> dict[str, float]:
    """``{"dice_auc", "ftp_auc", "ftn_auc", "score"}`` of one region of one case."""
    cuts = thresholds(num_points)
    c = curves(ref.astype(bool), pred.astype(bool), unc, brain.astype(bool), cuts)
    out = {f"{k}_auc": auc(cuts, v) for k, v in c.items()}
    out["score"] = (out["dice_auc"] + (1 - out["ftp_auc"]) + (1 - out["ftn_auc"])) / 3
    return out
