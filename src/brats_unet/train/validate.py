"""Model-space evaluation of cached cases: loss, the paper's pooled metrics, per-case region Dice."""

from __future__ import annotations

import numpy as np
import torch

from ..config import Config
from ..data.cache import SliceCache
from ..metrics.paper import PaperMetrics
from ..metrics.regions import region_dice, summarise
from ..models.apply import predict_slices, predict_sliding, to_labels


def case_logits(model, image: torch.Tensor, cfg: Config, device, precision: str, tta: bool = False) -> torch.Tensor:
    """Logits (K, S, H, W) for a preprocessed case image (C, S, H, W), 2D or 3D model."""
    if cfg.model.spatial_dims == 3:
        return predict_sliding(model, image, cfg.data.patch_size, device, precision, cfg.eval.overlap,
                               cfg.train.channels_last, tta)
    return predict_slices(model, image, device, precision, cfg.eval.batch_size, cfg.train.channels_last, tta)


@torch.no_grad()
def evaluate_cached(model, cache: SliceCache, case_ids: list[str], cfg: Config, device, precision: str,
                    loss_fn=None) -> dict:
    """{"loss", "accuracy", "mean_iou", "dice", "WT", "TC", "ET", "dice_mean", "per_case"} over cases."""
    model.eval()
    paper, losses, per_case = PaperMetrics(4), [], {}
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
    out = {"loss": float(np.mean(losses)) if losses else float("nan"), **paper.compute(), "per_case": per_case}
    for region in ("WT", "TC", "ET"):
        out[region] = summarise(d[region] for d in per_case.values())["mean"]
    out["dice_mean"] = float(np.nanmean([out["WT"], out["TC"], out["ET"]]))
    return out
