"""Confusion counts and the scores derived from them, for boolean masks of any dimension."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def counts(pred: np.ndarray, ref: np.ndarray) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) of two boolean masks of equal shape."""
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    tp = int(np.count_nonzero(pred & ref))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(ref)) - tp
    return tp, fp, fn, pred.size - tp - fp - fn


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def scores(tp: int, fp: int, fn: int, tn: int) -> dict[str, float]:
    """Dice, IoU, precision, sensitivity (recall), specificity, accuracy and MCC; NaN where 0/0."""
    mcc_den = math.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "dice": _ratio(2 * tp, 2 * tp + fp + fn),
        "iou": _ratio(tp, tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
        "mcc": _ratio(float(tp) * tn - float(fp) * fn, mcc_den),
    }


def confusion_counts(pred: torch.Tensor, ref: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, C) int64 matrix on the tensors' device (rows = reference class, columns = predicted class);
    no host synchronisation, so a training step can add it up and read the sum once per epoch."""
    flat = ref.reshape(-1).long() * num_classes + pred.reshape(-1).long()
    return flat.bincount(minlength=num_classes**2).reshape(num_classes, num_classes)


def confusion_matrix(pred: Any, ref: Any, num_classes: int) -> np.ndarray:
    """(C, C) matrix, rows = reference class, columns = predicted class (numpy arrays or torch tensors)."""
    if hasattr(pred, "detach"):
        return confusion_counts(pred, ref, num_classes).cpu().numpy()
    flat = np.asarray(ref, np.int64).ravel() * num_classes + np.asarray(pred, np.int64).ravel()
    return np.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)
