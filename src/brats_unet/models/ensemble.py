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


DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def has_dropout(model: nn.Module) -> bool:
    """Whether ``model`` holds a dropout layer with a rate above 0."""
    return any(isinstance(m, DROPOUT_TYPES) and m.p > 0 for m in model.modules())


class MonteCarloDropout(nn.Module):
    """Monte-Carlo dropout: the mean probability of ``samples`` forward passes with dropout left on.

    Gal & Ghahramani, "Dropout as a Bayesian approximation", ICML 2016; for segmentation Kendall et al.,
    "Bayesian SegNet", BMVC 2017. Everything else stays in inference mode (instance or batch norm statistics
    are not updated). The masks come from a generator seeded with ``seed`` at every forward, so a prediction
    repeats exactly.

    Forward: (B, C, *spatial) -> (B, K, *spatial) float32 logits of the mean probability, as
    :class:`ProbabilityEnsemble`.
    """

    def __init__(self, model: nn.Module, samples: int, mode: str = "multiclass", seed: int = 0):
        super().__init__()
        if samples < 1:
            raise ValueError("Monte-Carlo dropout needs at least one sample")
        self.model, self.samples, self.mode, self.seed = model, samples, mode, seed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = [m for m in self.model.modules() if isinstance(m, DROPOUT_TYPES)]
        devices = [x.device] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            for m in layers:
                m.train()
            try:
                return ProbabilityEnsemble([self.model] * self.samples, self.mode)(x)
            finally:
                for m in layers:
                    m.eval()

