"""Model-space evaluation of cached cases: loss, the paper's pooled metrics, per-case region Dice.

Validation runs through the same whole-case inference as prediction (``infer/whole_case.py``), as nnU-Net's
trainer calls its predictor; the trainer calls this module, never the reverse. It
comes in two halves so several processes can share it: :func:`validate_cases` scores any subset of the
cases, :func:`summarise_validation` merges the parts of all ranks in the cases' own order, so the result
does not depend on how the cases were shared out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch

from ..brats import NUM_CLASSES, REGION_NAMES
from ..config import Config
from ..data.cache import SliceCache
from ..infer.whole_case import case_logits, to_labels
from ..metrics.confusion import confusion_matrix
from ..metrics.pooled import pooled_metrics
from ..metrics.regions import region_dice, summarise

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class ValidationPart:
    """Scores of some validation cases: the pooled (4, 4) confusion matrix, and per case the loss and Dice."""

    matrix: np.ndarray = field(default_factory=lambda: np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64))
    losses: dict[str, float] = field(default_factory=dict)
    per_case: dict[str, dict[str, float]] = field(default_factory=dict)


@torch.no_grad()
def validate_cases(model: torch.nn.Module, cache: SliceCache, case_ids: list[str], cfg: Config,
                   device: torch.device, precision: str, loss_fn: Optional[LossFn] = None) -> ValidationPart:
    """Score ``case_ids`` (any subset of the validation split)."""
    model.eval()
    part = ValidationPart()
    for cid in case_ids:
        image = torch.from_numpy(np.asarray(cache.image(cid), np.float32))
        seg = torch.from_numpy(np.asarray(cache.seg(cid), np.int64))
        logits = case_logits(model, image, cfg, device, precision)
        if loss_fn is not None:
            part.losses[cid] = float(loss_fn(logits.transpose(0, 1), seg)) if cfg.model.spatial_dims == 2 \
                else float(loss_fn(logits[None], seg[None]))
        labels = to_labels(logits, cfg.loss.mode, decode=cfg.eval.decode)
        part.matrix += confusion_matrix(labels, seg, NUM_CLASSES)
        part.per_case[cid] = region_dice(labels.numpy(), seg.numpy(), cfg.eval.convention)
    return part


def summarise_validation(parts: list[ValidationPart], case_ids: list[str]) -> dict[str, Any]:
    """{"loss", "accuracy", "mean_iou", "dice", "WT", "TC", "ET", "dice_mean", "per_case"} over all parts."""
    matrix = sum((p.matrix for p in parts), np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64))
    losses = {c: v for p in parts for c, v in p.losses.items()}
    found = {c: v for p in parts for c, v in p.per_case.items()}
    per_case = {c: found[c] for c in case_ids if c in found}
    ordered = [losses[c] for c in case_ids if c in losses]
    out: dict[str, Any] = {"loss": float(np.mean(ordered)) if ordered else float("nan"), **pooled_metrics(matrix),
                           "per_case": per_case}
    for region in REGION_NAMES:
        out[region] = summarise(d[region] for d in per_case.values())["mean"]
    out["dice_mean"] = float(np.nanmean([out[r] for r in REGION_NAMES]))
    return out


def evaluate_cached(model: torch.nn.Module, cache: SliceCache, case_ids: list[str], cfg: Config,
                    device: torch.device, precision: str, loss_fn: Optional[LossFn] = None) -> dict[str, Any]:
    """Validation of ``case_ids`` in one process (see :func:`summarise_validation` for the keys)."""
    return summarise_validation([validate_cases(model, cache, case_ids, cfg, device, precision, loss_fn)], case_ids)
