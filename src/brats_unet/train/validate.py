"""Model-space evaluation of cached cases: loss, the paper's pooled metrics, per-case region Dice.

Validation runs through the same inferer as prediction (as nnU-Net's trainer calls its predictor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import numpy as np
import torch

from ..brats import REGION_NAMES
from ..config import Config
from ..data.cache import SliceCache
from ..infer.inferer import case_logits, to_labels
from ..metrics.paper import PaperMetrics
from ..metrics.regions import region_dice, summarise


@torch.no_grad()
def evaluate_cached(model: torch.nn.Module, cache: SliceCache, case_ids: list[str], cfg: Config,
                    device: torch.device, precision: str,
                    loss_fn: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None) -> dict[str, Any]:
    """{"loss", "accuracy", "mean_iou", "dice", "WT", "TC", "ET", "dice_mean", "per_case"} over cases."""
    model.eval()
    paper = PaperMetrics(4)
    losses: list[float] = []
    per_case: dict[str, dict[str, float]] = {}
    for cid in case_ids:
        image = torch.from_numpy(np.asarray(cache.image(cid), np.float32))
        seg = torch.from_numpy(np.asarray(cache.seg(cid), np.int64))
        logits = case_logits(model, image, cfg, device, precision)
        if loss_fn is not None:
            losses.append(float(loss_fn(logits.transpose(0, 1), seg)) if cfg.model.spatial_dims == 2
                          else float(loss_fn(logits[None], seg[None])))
        labels = to_labels(logits, cfg.loss.mode)
        paper.update(labels, seg)
        per_case[cid] = region_dice(labels.numpy(), seg.numpy(), cfg.eval.convention)
    out: dict[str, Any] = {"loss": float(np.mean(losses)) if losses else float("nan"), **paper.compute(),
                           "per_case": per_case}
    for region in REGION_NAMES:
        out[region] = summarise(d[region] for d in per_case.values())["mean"]
    out["dice_mean"] = float(np.nanmean([out[r] for r in REGION_NAMES]))
    return out
