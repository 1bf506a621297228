"""An ensemble of trained networks that averages their probabilities (nnU-Net's fold ensemble).

nnU-Net predicts with the five models of a cross-validation and averages their softmax outputs before
taking the argmax (Isensee et al., Nature Methods 2021). :class:`ProbabilityEnsemble` does that inside
one ``nn.Module``, so every consumer of a model (slice batches, sliding windows, TTA, export) takes an
ensemble as it takes one network: it returns scores whose softmax (``multiclass``) or sigmoid
(``regions``) is the members' mean probability.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

EPS = 1e-7  # keeps log / logit finite; far below any probability that changes a decision


class ProbabilityEnsemble(nn.Module):
    """Mean of the members' probabilities, returned as logits.

    Args:
        members: networks mapping (B, C, *spatial) to logits (B, K, *spatial), all with the same K.
        mode: ``multiclass`` (softmax over K classes) or ``regions`` (sigmoid per WT/TC/ET channel).

    Forward: (B, C, *spatial) -> (B, K, *spatial) float32: ``log(mean softmax)`` (multiclass; its softmax is
    the mean because the mean already sums to 1) or ``logit(mean sigmoid)`` (regions).
    """

    def __init__(self, members: Sequence[nn.Module], mode: str = "multiclass"):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = None
        for member in self.members:
            logits = member(x)
            with torch.autocast(x.device.type, enabled=False):  # average in float32, not bf16
                p = torch.sigmoid(logits.float()) if self.mode == "regions" else torch.softmax(logits.float(), 1)
            probs = p if probs is None else probs + p
        assert probs is not None
        mean = (probs / len(self.members)).clamp(EPS, 1 - EPS)
        return torch.logit(mean) if self.mode == "regions" else torch.log(mean)
