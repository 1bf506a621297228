"""Where the errors are: false positives and false negatives by distance from the reference tumour boundary, and
whether the uncertainty map ranks the wrong voxels above the right ones (the case study's worry about margins).

Distances are in mm (the voxel spacing): a false positive's is to the nearest reference voxel of the region (how
far outside the tumour it lies), a false negative's to the nearest voxel outside the reference region (how deep
inside). Bins: up to 1 mm (the boundary voxel itself at 1 mm spacing), 1-3, 3-6 and beyond 6 mm; "at the
margin" means within 2 mm. The uncertainty's AUROC for error is the probability that an erroneous brain voxel
is more uncertain than a correct one (ties count half): 0.5 is no better than chance, 1 a perfect ranking. An
error is "flagged" when its uncertainty is at least ``FLAG`` (50: region probability between about 0.11 and 0.89).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

BINS = ((0.0, 1.0, "<=1 mm"), (1.0, 3.0, "1-3 mm"), (3.0, 6.0, "3-6 mm"), (6.0, np.inf, ">6 mm"))
MARGIN_MM = 2.0
FLAG = 50


def _distance(mask: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """mm from every voxel to the nearest voxel *not* in ``mask`` (0 outside it); inf everywhere if ``mask`` is
    all True (no voxel to measure to)."""
    if mask.all():
        return np.full(mask.shape, np.inf)
    return ndimage.distance_transform_edt(mask, sampling=spacing)


def _around(ref: np.ndarray, pred: np.ndarray) -> tuple[slice, ...]:
    """The bounding box of ``ref | pred`` grown by one voxel: every distance measured below stays inside it (the
    nearest reference voxel of a false positive, the nearest outside voxel of a false negative), so the
    distance transforms run on this box, not the whole 240 x 240 x 155 grid."""
    either = ref | pred
    box = []
    for axis in range(either.ndim):
        hit = np.nonzero(either.any(axis=tuple(a for a in range(either.ndim) if a != axis)))[0]
        box.append(slice(max(0, hit[0] - 1), hit[-1] + 2) if len(hit) else slice(0, 0))
    return tuple(box)


def error_distances(ref: np.ndarray, pred: np.ndarray, spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(mm of each false positive outside the reference, mm of each false negative inside it) for one region."""
    box = _around(ref, pred)
    ref, pred = ref[box], pred[box]
    fp, fn = pred & ~ref, ref & ~pred
    outside = _distance(~ref, spacing) if fp.any() else np.zeros(ref.shape)
    inside = _distance(ref, spacing) if fn.any() else np.zeros(ref.shape)
    return outside[fp], inside[fn]


def auroc(unc: np.ndarray, error: np.ndarray) -> float:
    """P(uncertainty of an error > that of a correct voxel) + half the ties, from integer uncertainties 0..100;
    NaN without errors or without correct voxels."""
    bins = np.clip(np.rint(unc), 0, 100).astype(np.int64)
    h_err = np.bincount(bins[error], minlength=101).astype(np.float64)
    h_ok = np.bincount(bins[~error], minlength=101).astype(np.float64)
    n_err, n_ok = h_err.sum(), h_ok.sum()
    if not n_err or not n_ok:
        return float("nan")
    below = np.concatenate([[0.0], np.cumsum(h_ok)[:-1]])  # correct voxels strictly less uncertain
    return float((h_err * (below + 0.5 * h_ok)).sum() / (n_err * n_ok))


def margin_row(ref: np.ndarray, pred: np.ndarray, unc: np.ndarray, brain: np.ndarray,
               spacing: Sequence[float]) -> dict[str, float]:
    """Error counts per distance bin, the share within 2 mm of the margin, how much of that the map flags, and
    the map's AUROC for error over brain voxels, for one region of one case."""
    d_fp, d_fn = error_distances(ref, pred, spacing)  # in the order of the voxels of the box below
    row: dict[str, float] = {"fp": float(d_fp.size), "fn": float(d_fn.size)}
    for lo, hi, name in BINS:
        row[f"fp {name}"] = float(((d_fp > lo) & (d_fp <= hi)).sum()) if lo else float((d_fp <= hi).sum())
        row[f"fn {name}"] = float(((d_fn > lo) & (d_fn <= hi)).sum()) if lo else float((d_fn <= hi).sum())
    errors = pred != ref
    box = _around(ref, pred)
    r, p = ref[box], pred[box]
    dist = np.full(r.shape, np.inf)
    dist[p & ~r], dist[r & ~p] = d_fp, d_fn
    at_margin = dist <= MARGIN_MM  # errors only: correct voxels keep inf
    n_err = float(errors.sum())
    row["errors"] = n_err
    row["share_within_2mm"] = float(at_margin.sum()) / n_err if n_err else float("nan")
    row["flagged_within_2mm"] = float((unc[box][at_margin] >= FLAG).mean()) if at_margin.any() else float("nan")
    row["auroc"] = auroc(unc[brain], errors[brain])
    return row
