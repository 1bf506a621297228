"""Lesion-wise Dice and HD95 as the BraTS organisers compute them, one function per evaluator generation.

Both split each region mask into 26-connected components ("lesions") and score them one by one, so a
missed small lesion or a spurious far blob weighs as much as the main tumour.

* :func:`lesionwise_2023`: the BraTS 2023-2024 lesion-wise code (Saluja et al., github.com/rachitsaluja/
  BraTS-2023-Metrics). Reference lesions closer than ``dilation`` voxels (18-connected dilation) merge;
  every predicted component touching a lesion's dilated region counts for that lesion; lesions of at most
  ``threshold`` mm^3 are left out; each predicted component touching no lesion is a false positive scored
  Dice 0 and HD95 374. Score = sum over lesions / (lesions + false positives); HD95 surface-weighted.
* :func:`lesionwise_panoptica`: the BraTS 2025 evaluator (``brats-evaluation`` on PyPI, built on panoptica,
  Kofler et al., 2023). Components are matched one-to-one by maximum-Dice bipartite matching (any overlap);
  the lesion-wise scores average the matched pairs only ("segmentation quality"), and unmatched lesions
  show in the TP/FP/FN counts and F1 ("recognition quality"). HD95 pooled over both surfaces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.ndimage import binary_dilation, generate_binary_structure, label
from scipy.optimize import linear_sum_assignment

from ..brats import HD95_PENALTY_2023
from .surface import crop_joint, hd95

_CONNECTIVITY = np.ones((3, 3, 3), bool)  # 26-connected lesions, as cc3d's default


def components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """(label map, count) of the 26-connected components of a 3D boolean mask."""
    labels, n = label(np.asarray(mask, bool), structure=_CONNECTIVITY)
    return labels, int(n)


def lesionwise_2023(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float], dilation: int,
                    threshold: float) -> dict[str, float]:
    """The 2023 organisers' lesion-wise scores of one region: {"lesion_dice", "lesion_hd95", "tp", "fp", "fn"}.

    ``dilation`` (voxels) and ``threshold`` (mm^3) are the sub-challenge's (``brats.SUBCHALLENGES``).
    """
    # cut to the masks' box plus room for two dilations: exact, and far cheaper on a whole volume
    pred, ref = crop_joint(np.asarray(pred, bool), np.asarray(ref, bool), dilation * 2 + 2)
    voxel_mm3 = float(np.prod(spacing))
    struct = generate_binary_structure(3, 2)
    pred_cc, _ = components(pred)
    merged, n_lesions = components(binary_dilation(ref, struct, iterations=dilation) if dilation else ref)
    merged = np.where(ref, merged, 0)  # reference voxels, numbered by the dilated component they lie in
    touched: set[int] = set()
    kept_dice, kept_hd, tp, fn = [], [], 0, 0
    for lesion_id in range(1, n_lesions + 1):
        lesion = merged == lesion_id
        roi = binary_dilation(lesion, struct, iterations=dilation) if dilation else lesion
        hits = np.unique(pred_cc[roi])
        hits = hits[hits != 0]
        touched.update(int(h) for h in hits)
        matched = np.isin(pred_cc, hits)
        size = np.count_nonzero(lesion)
        if size * voxel_mm3 <= threshold:
            continue  # too small to be scored, though the components touching it are no false positives
        inter = np.count_nonzero(matched & lesion)
        kept_dice.append(2.0 * inter / (np.count_nonzero(matched) + size))
        hd = hd95(matched, lesion, spacing, "weighted")
        kept_hd.append(HD95_PENALTY_2023 if math.isinf(hd) else hd)
        tp, fn = tp + bool(len(hits)), fn + (not len(hits))
    fp = len(set(np.unique(pred_cc)) - touched - {0})
    n = len(kept_dice) + fp
    return {"lesion_dice": float(sum(kept_dice) / n) if n else 1.0,
            "lesion_hd95": float((sum(kept_hd) + HD95_PENALTY_2023 * fp) / n) if n else 0.0,
            "tp": tp, "fp": fp, "fn": fn}


def _match(pred_cc: np.ndarray, n_pred: int, ref_cc: np.ndarray, n_ref: int) -> list[tuple[int, int, float]]:
    """One-to-one (ref id, pred id, Dice) pairs maximising the summed Dice over overlapping components."""
    if not n_pred or not n_ref:
        return []
    both = (ref_cc > 0) & (pred_cc > 0)
    inter = np.bincount(ref_cc[both].astype(np.int64) * (n_pred + 1) + pred_cc[both],
                        minlength=(n_ref + 1) * (n_pred + 1)).reshape(n_ref + 1, n_pred + 1)[1:, 1:]
    vol_r = np.bincount(ref_cc.ravel(), minlength=n_ref + 1)[1:]
    vol_p = np.bincount(pred_cc.ravel(), minlength=n_pred + 1)[1:]
    dice = 2.0 * inter / (vol_r[:, None] + vol_p[None, :])
    cost = np.where(dice >= 1e-6, 1.0 - dice, 1.0 + 1e-6)  # panoptica's MaxBipartiteMatching
    rows, cols = linear_sum_assignment(cost)
    return [(int(r) + 1, int(c) + 1, float(dice[r, c])) for r, c in zip(rows, cols) if cost[r, c] < 1.0]


def lesionwise_panoptica(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """brats-evaluation's scores of one region, with its output names (``parse_seg_results``)."""
    pred, ref = crop_joint(np.asarray(pred, bool), np.asarray(ref, bool), 2)
    pred_cc, n_pred = components(pred)
    ref_cc, n_ref = components(ref)
    pairs = _match(pred_cc, n_pred, ref_cc, n_ref)
    tp = len(pairs)
    fp, fn = n_pred - tp, n_ref - tp
    out: dict[str, float] = {"all_instance_tp": tp, "all_instance_fp": fp, "all_instance_fn": fn}
    none = not n_pred and not n_ref
    if tp:
        dsc = [d for _, _, d in pairs]
        hd = [hd95(pred_cc == p, ref_cc == r, spacing, "pooled") for r, p, _ in pairs]
        out.update(lesionwise_dsc_mean=float(np.mean(dsc)), lesionwise_dsc_std=float(np.std(dsc)),
                   lesionwise_hd95_mean=float(np.mean(hd)), lesionwise_hd95_std=float(np.std(hd)))
    else:  # panoptica's zero-TP edge cases: NaN without any lesion, else Dice 0 and HD95 inf
        out.update(lesionwise_dsc_mean=math.nan if none else 0.0, lesionwise_dsc_std=math.nan,
                   lesionwise_hd95_mean=math.nan if none else math.inf, lesionwise_hd95_std=math.nan)
    out["all_instance_prec"] = tp / (tp + fp) if tp + fp else math.nan
    out["all_instance_rec"] = tp / (tp + fn) if tp + fn else math.nan
    out["all_instance_f1"] = (tp / (tp + 0.5 * fp + 0.5 * fn)) if tp else (math.nan if none else 0.0)
    return out
