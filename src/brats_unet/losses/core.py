"""Shared pieces of the losses: turn logits and integer labels into probabilities and one-hot targets.

Two modes, as nnU-Net and MONAI train BraTS:

* ``multiclass``: softmax over C classes (internal codes 0 bg, 1 core, 2 edema, 3 enhancing).
* ``regions``: sigmoid over 3 overlapping region channels WT, TC, ET built from the labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F

from ..brats import to_regions

EPS = 1e-7


def region_targets(target: torch.Tensor) -> torch.Tensor:
    """(B, *spatial) int labels -> (B, 3, *spatial) float WT/TC/ET masks."""
    return to_regions(target, axis=1).float()


def one_hot(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, *spatial) int labels -> (B, C, *spatial) float one-hot."""
    return F.one_hot(target.long(), num_classes).movedim(-1, 1).float()


def probs_and_targets(logits: torch.Tensor, target: torch.Tensor, mode: str,
                      include_background: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities and matching float targets, both (B, K, *spatial).

    ``include_background=False`` drops channel 0 in multiclass mode (regions have no background channel).
    """
    if mode == "regions":
        return torch.sigmoid(logits), region_targets(target).to(logits.dtype)
    probs, onehot = torch.softmax(logits, dim=1), one_hot(target, logits.shape[1]).to(logits.dtype)
    if not include_background:
        probs, onehot = probs[:, 1:], onehot[:, 1:]
    return probs, onehot


def log_probs(logits: torch.Tensor, mode: str, include_background: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p, log(1 - p)) per channel, computed from the logits so they stay finite and keep their
    gradients when the softmax/sigmoid saturates (clamping p instead zeroes the gradient there).

    Multiclass: log(1 - p_c) = logsumexp over the other classes - logsumexp over all classes.
    """
    if mode == "regions":
        return F.logsigmoid(logits), F.logsigmoid(-logits)
    c = logits.shape[1]
    eye = torch.eye(c, dtype=torch.bool, device=logits.device).view(1, c, c, *[1] * (logits.dim() - 2))
    others = logits.unsqueeze(1).expand(-1, c, *logits.shape[1:]).masked_fill(eye, float("-inf"))
    lse = torch.logsumexp(logits, 1, keepdim=True)
    logp, log1mp = logits - lse, torch.logsumexp(others, dim=2) - lse
    return (logp, log1mp) if include_background else (logp[:, 1:], log1mp[:, 1:])


def binary_expand(probs: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Regions as 2-class problems: channels [1-p_1..1-p_K, p_1..p_K] and a foreground flag per channel."""
    fg = torch.tensor([False] * probs.shape[1] + [True] * probs.shape[1])
    return torch.cat([1 - probs, probs], 1), torch.cat([1 - onehot, onehot], 1), fg


def reduce_dims(x: torch.Tensor, batch: bool) -> list[int]:
    """Axes to sum for per-channel statistics: spatial axes, plus the batch axis if ``batch``."""
    return ([0] if batch else []) + list(range(2, x.dim()))


def confusion_soft(probs: torch.Tensor, onehot: torch.Tensor, batch: bool) -> tuple[torch.Tensor, ...]:
    """Soft TP, FP, FN per channel: shape (K,) if ``batch`` else (B, K)."""
    dims = reduce_dims(probs, batch)
    tp = (probs * onehot).sum(dims)
    return tp, (probs * (1 - onehot)).sum(dims), ((1 - probs) * onehot).sum(dims)


def weighted_mean(values: torch.Tensor, weights: Optional[Sequence[float]]) -> torch.Tensor:
    """Mean over the last (channel) axis with optional per-channel weights."""
    if weights is None:
        return values.mean()
    w = torch.as_tensor(weights, dtype=values.dtype, device=values.device)
    if w.numel() != values.shape[-1]:
        raise ValueError(f"loss.class_weights has {w.numel()} values for {values.shape[-1]} channels")
    return (values * w).sum(-1).mean() / w.sum()
