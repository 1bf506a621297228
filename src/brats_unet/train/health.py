"""Signs that a training run has gone wrong while its loss still looks like a number.

A Dice-type loss on a network without normalisation, at Adam's 1e-3, can drive the logits to ~1e9 in a
few hundred steps: the softmax saturates at background, every gradient vanishes, and the loss sits at
a constant (0.75 for a 4-class Dice with background) with no error raised. Our ``dice`` and MONAI's
``DiceLoss`` do this alike on the paper's network (a probe retired in 396819d,
``studies/losses/collapse.md``); instance normalisation or Dice + CE train normally.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def collapse_message(matrix: np.ndarray, epoch: int) -> Optional[str]:
    """A warning if the epoch's training predictions hold no tumour while its labels do, else None.

    ``matrix``: (C, C) confusion counts of the epoch's training steps, rows true class, columns
    predicted class, class 0 background.
    """
    true_tumour, predicted_tumour = int(matrix[1:, :].sum()), int(matrix[:, 1:].sum())
    if true_tumour == 0 or predicted_tumour > 0:
        return None
    share = 100 * true_tumour / max(int(matrix.sum()), 1)
    return (f"warning: epoch {epoch + 1}: the model predicted no tumour on any training slice, though {share:.2f} % "
            "of their pixels are tumour: training has collapsed to background (a Dice-type loss on a network "
            "without normalisation does this, as can too high a rate); if it lasts, set model.norm=instance, add ce "
            "to the loss (loss={dice: 1, ce: 1}) or lower train.lr")
