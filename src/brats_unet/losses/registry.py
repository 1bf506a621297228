"""The loss registry: one plain dict from config name to loss function (or factory)."""

from __future__ import annotations

from . import functional as L
from .boundary import BoundaryLoss

LOSSES = {
    "ce": L.cross_entropy,
    "weighted_ce": L.weighted_cross_entropy,
    "dice": L.dice,
    "focal": L.focal,
    "tversky": L.tversky,
    "focal_tversky": L.focal_tversky,
    "combo": L.combo,
    "unified_focal": L.unified_focal,
    "unified_focal_symmetric": L.unified_focal_symmetric,
    "boundary": BoundaryLoss,
}

COMMON = ("mode", "include_background", "class_weights")
