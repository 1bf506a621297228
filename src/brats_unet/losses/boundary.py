"""Boundary loss (Kervadec et al. 2019) blended with a region loss under the usual alpha schedule.

L = alpha * L_region + (1 - alpha) * L_B, with L_B = mean(sum_k s_k * phi_k): s_k the foreground
probabilities and phi_k the signed distance map of the ground truth of channel k (negative inside,
positive outside, zero for an empty mask), computed with scipy. ``alpha`` starts at ``alpha_start`` and
falls by ``alpha_step`` per epoch to ``alpha_min`` (Kervadec's "rebalance" strategy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from .core import probs_and_targets


def signed_distance(mask: np.ndarray, spacing: Optional[Sequence[float]] = None) -> np.ndarray:
    """Signed distance map of a boolean mask: outside > 0, inside < 0 (Kervadec's ``one_hot2dist``)."""
    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    outside = distance_transform_edt(~mask, sampling=spacing) * ~mask
    inside = (distance_transform_edt(mask, sampling=spacing) - 1) * mask
    return (outside - inside).astype(np.float32)


def distance_maps(onehot: torch.Tensor) -> torch.Tensor:
    """Signed distance maps for every (sample, channel) of a (B, K, *spatial) one-hot target."""
    masks = onehot.detach().cpu().numpy() > 0.5
    maps = np.stack([np.stack([signed_distance(m) for m in sample]) for sample in masks])
    return torch.from_numpy(maps).to(device=onehot.device, dtype=onehot.dtype)


def boundary_term(logits: torch.Tensor, target: torch.Tensor, mode: str = "multiclass") -> torch.Tensor:
    """The boundary loss L_B alone, over foreground channels."""
    probs, onehot = probs_and_targets(logits, target, mode, include_background=(mode == "regions"))
    return (probs * distance_maps(onehot)).mean()


class BoundaryLoss(torch.nn.Module):
    """alpha * region loss + (1 - alpha) * boundary loss; call ``set_epoch`` once per epoch."""

    def __init__(self, region: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], mode: str = "multiclass",
                 alpha_start: float = 1.0, alpha_step: float = 0.01, alpha_min: float = 0.01):
        super().__init__()
        self.region, self.mode = region, mode
        self.alpha_start, self.alpha_step, self.alpha_min = alpha_start, alpha_step, alpha_min
        self.alpha = alpha_start

    def set_epoch(self, epoch: int) -> None:
        """Set alpha for a (0-based) epoch."""
        self.alpha = max(self.alpha_min, self.alpha_start - self.alpha_step * epoch)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        boundary = boundary_term(logits, target, self.mode)
        return self.alpha * self.region(logits, target) + (1 - self.alpha) * boundary
