"""Segmentation losses as plain functions of (logits (B, C, *spatial), labels (B, *spatial)).

Every function takes ``mode`` ("multiclass" | "regions"), then only the options it uses: of the shared
ones, ``include_background`` (multiclass: keep channel 0 in the overlap term) and ``class_weights`` (one
weight per output channel), then its own parameters with the defaults of the paper that introduced it.
A loss never silently ignores an option: the registry reads these signatures to refuse one it does not
take. All return a scalar tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F

from .core import EPS, binary_expand, confusion_soft, log_probs, probs_and_targets, region_targets, weighted_mean

Tensor = torch.Tensor
Weights = Optional[Sequence[float]]


def _weights(class_weights: Weights, mode: str, include_background: bool) -> Weights:
    """Per-channel weights matching the channels a region/overlap loss sees."""
    if class_weights is None or mode == "regions" or include_background:
        return class_weights
    return tuple(class_weights)[1:] if len(class_weights) == 4 else class_weights


def cross_entropy(logits: Tensor, target: Tensor, mode: str = "multiclass", class_weights: Weights = None) -> Tensor:
    """Categorical cross-entropy (the case study's loss); binary CE per region channel in regions mode."""
    weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)
    if mode == "regions":
        shape = (1, -1) + (1,) * (logits.dim() - 2)
        per = F.binary_cross_entropy_with_logits(logits, region_targets(target).to(logits.dtype), reduction="none")
        return (per * weight.view(shape)).mean() / weight.mean() if weight is not None else per.mean()
    return F.cross_entropy(logits, target.long(), weight=weight)


def weighted_cross_entropy(logits: Tensor, target: Tensor, mode: str = "multiclass",
                           class_weights: Weights = None) -> Tensor:
    """Cross-entropy weighted by ``class_weights``, or by inverse square-root class frequency in the batch."""
    if class_weights is None:
        if mode == "regions":
            counts = region_targets(target).sum(dim=[0] + list(range(2, target.dim() + 1)))
        else:
            counts = torch.bincount(target.reshape(-1).long(), minlength=logits.shape[1]).to(logits.dtype)
        freq = (counts + 1) / (counts.sum() + counts.numel())
        class_weights = (freq.rsqrt() / freq.rsqrt().mean()).tolist()
    return cross_entropy(logits, target, mode, class_weights)


def dice(logits: Tensor, target: Tensor, mode: str = "multiclass", include_background: bool = True,
         class_weights: Weights = None, smooth: float = 1e-5, batch: bool = True) -> Tensor:
    """Soft Dice loss, 1 - mean_k (2 TP_k + s) / (2 TP_k + FP_k + FN_k + s) (Milletari et al. 2016).

    ``batch=True`` pools the statistics over the batch (nnU-Net's batch Dice), else per sample.
    """
    probs, onehot = probs_and_targets(logits, target, mode, include_background)
    tp, fp, fn = confusion_soft(probs, onehot, batch)
    score = (2 * tp + smooth) / (2 * tp + fp + fn + smooth)
    return 1 - weighted_mean(score, _weights(class_weights, mode, include_background))


def tversky(logits: Tensor, target: Tensor, mode: str = "multiclass", include_background: bool = True,
            class_weights: Weights = None, alpha: float = 0.3, beta: float = 0.7, smooth: float = 1e-5,
            batch: bool = True) -> Tensor:
    """Tversky loss 1 - TP / (TP + alpha FP + beta FN) (Salehi et al. 2017; alpha=0.3, beta=0.7)."""
    probs, onehot = probs_and_targets(logits, target, mode, include_background)
    tp, fp, fn = confusion_soft(probs, onehot, batch)
    score = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    return 1 - weighted_mean(score, _weights(class_weights, mode, include_background))


def focal_tversky(logits: Tensor, target: Tensor, mode: str = "multiclass", include_background: bool = True,
                  class_weights: Weights = None, alpha: float = 0.3, beta: float = 0.7, gamma: float = 0.75,
                  smooth: float = 1e-5, batch: bool = True) -> Tensor:
    """Focal Tversky loss mean_k (1 - TI_k) ** gamma (Abraham & Khan 2019; gamma = 1/(4/3) = 0.75)."""
    probs, onehot = probs_and_targets(logits, target, mode, include_background)
    tp, fp, fn = confusion_soft(probs, onehot, batch)
    ti = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    return weighted_mean((1 - ti).clamp_min(0) ** gamma, _weights(class_weights, mode, include_background))


def focal(logits: Tensor, target: Tensor, mode: str = "multiclass", class_weights: Weights = None,
          gamma: float = 2.0) -> Tensor:
    """Focal loss -alpha_t (1 - p_t) ** gamma log p_t (Lin et al. 2017), mean over voxels.

    Multiclass: softmax, ``class_weights`` play alpha_t. Regions: sigmoid per channel, both terms,
    ``class_weights`` weight the channels (normalised to mean 1, as in ``cross_entropy``).
    """
    if mode == "regions":
        t = region_targets(target).to(logits.dtype)
        logp, log1mp = F.logsigmoid(logits), F.logsigmoid(-logits)
        p = logp.exp()
        per = -(t * (1 - p) ** gamma * logp + (1 - t) * p**gamma * log1mp)
        if class_weights is None:
            return per.mean()
        w = torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)
        return (per * w.view((1, -1) + (1,) * (logits.dim() - 2))).mean() / w.mean()
    logp = torch.log_softmax(logits, 1).gather(1, target.long().unsqueeze(1)).squeeze(1)
    per = -((1 - logp.exp()) ** gamma) * logp
    if class_weights is not None:
        per = per * torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)[target.long()]
    return per.mean()


def combo(logits: Tensor, target: Tensor, mode: str = "multiclass", include_background: bool = True,
          alpha: float = 0.5, beta: float = 0.5, smooth: float = 1e-5) -> Tensor:
    """Combo loss alpha * weighted CE + (1 - alpha) * (1 - Dice) (Taghanaki et al. 2019).

    The CE term is the paper's per-channel binary form: beta weights false negatives, 1 - beta false
    positives. We add 1 to -Dice so the loss is non-negative (same gradients).
    """
    probs, onehot = probs_and_targets(logits, target, mode, include_background)
    logp, log1mp = log_probs(logits, mode, include_background)
    ce = -(beta * onehot * logp + (1 - beta) * (1 - onehot) * log1mp).mean()
    tp, fp, fn = confusion_soft(probs, onehot, True)
    dsc = ((2 * tp + smooth) / (2 * tp + fp + fn + smooth)).mean()
    return alpha * ce + (1 - alpha) * (1 - dsc)


def _unified(probs: Tensor, onehot: Tensor, logp: Tensor, fg: Tensor, lam: float, delta: float, gamma: float,
             asymmetric: bool) -> Tensor:
    """Unified Focal on K channels; ``fg`` flags rare (foreground) channels, the others are background."""
    ce = -onehot * logp
    shape = (1, -1) + (1,) * (probs.dim() - 2)
    fg_b = fg.to(probs.device).view(shape)
    modulator = (1 - probs).clamp_min(EPS) ** gamma  # gamma < 1: the clamp keeps d/dp finite at p = 1
    back = (1 - delta) * modulator * ce
    fore = delta * ce * (1 if asymmetric else modulator)
    focal_part = torch.where(fg_b, fore, back).sum(1).mean()
    tp, fp, fn = confusion_soft(probs, onehot, batch=False)
    ti = (tp + EPS) / (tp + delta * fn + (1 - delta) * fp + EPS)
    back_t = (1 - ti) if asymmetric else (1 - ti).clamp_min(EPS) ** (1 - gamma)
    fore_t = (1 - ti).clamp_min(EPS) ** (1 - gamma)
    tversky_part = torch.where(fg.to(probs.device), fore_t, back_t).mean()
    return lam * tversky_part + (1 - lam) * focal_part


def unified_focal(logits: Tensor, target: Tensor, mode: str = "multiclass", lam: float = 0.5, delta: float = 0.6,
                  gamma: float = 0.5, asymmetric: bool = True) -> Tensor:
    """Unified Focal loss (Yeung et al. 2022): lam * focal-Tversky part + (1 - lam) * focal part.

    Asymmetric by default (the paper's recommendation): focal suppression and Tversky enhancement are
    applied to the background only, the rare foreground classes keep their full loss; ``asymmetric=False``
    is the paper's symmetric variant (focal modulation on every class). Defaults lam=0.5, delta=0.6,
    gamma=0.5 as in the paper. Multiclass: channel 0 is background; regions: each channel is a binary
    problem with its complement as background (so background always takes part).
    """
    probs, onehot = probs_and_targets(logits, target, mode, True)
    logp, log1mp = log_probs(logits, mode)
    if mode == "regions":
        probs, onehot, fg = binary_expand(probs, onehot)
        logp = torch.cat([log1mp, logp], 1)
    else:
        fg = torch.arange(probs.shape[1]) > 0
    return _unified(probs, onehot, logp, fg, lam, delta, gamma, asymmetric)

