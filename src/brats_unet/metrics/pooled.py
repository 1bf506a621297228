"""The case study's metrics, pooled over every pixel of a split as its Keras metrics were.

Named so nobody mistakes them for BraTS region Dice: ``pixel_accuracy`` over all classes,
``mean_iou_4class`` (Keras ``MeanIoU`` over the 4 classes including background) and
``dice_4class`` (Dice averaged over the 4 classes including background). Classes absent from both
prediction and reference are left out of the means, as Keras ``MeanIoU`` does.
"""

from __future__ import annotations

import numpy as np

from .confusion import confusion_matrix


class PooledMetrics:
    """Accumulate a pooled confusion matrix over batches, then read the paper's three metrics."""

    def __init__(self, num_classes: int = 4):
        self.num_classes = num_classes
        self.matrix = np.zeros((num_classes, num_classes), np.int64)

    def update(self, pred, ref) -> None:
        """Add a batch of predicted and reference label maps (numpy or torch, any shape)."""
        self.matrix += confusion_matrix(pred, ref, self.num_classes)

    def compute(self) -> dict[str, float]:
        """{"accuracy", "mean_iou", "dice"} from the pooled matrix."""
        return pooled_metrics(self.matrix)


def pooled_metrics(matrix: np.ndarray) -> dict[str, float]:
    """Pixel accuracy, 4-class mean IoU and 4-class mean Dice from a (C, C) confusion matrix."""
    tp = np.diag(matrix).astype(float)
    fp, fn = matrix.sum(0) - tp, matrix.sum(1) - tp
    valid = (tp + fp + fn) > 0
    iou = tp[valid] / (tp + fp + fn)[valid]
    dice = 2 * tp[valid] / (2 * tp + fp + fn)[valid]
    total = matrix.sum()
    return {"accuracy": float(tp.sum() / total) if total else float("nan"),
            "mean_iou": float(iou.mean()) if valid.any() else float("nan"),
            "dice": float(dice.mean()) if valid.any() else float("nan")}
