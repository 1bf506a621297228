"""Losses: ``build_loss(cfg.loss)`` turns the ``loss:`` section into one weighted-sum module.

A loss is any ``(logits (B, K, *spatial), labels (B, *spatial) int) -> scalar`` callable; the registry
(``LOSSES``) maps each config name to a factory of one, and ``CompositeLoss`` sums the configured terms.
"""

from __future__ import annotations

from typing import Any, Union

import torch
import torch.nn.functional as F

from ..config import LossConfig
from ..errors import ConfigError
from .registry import LOSSES, SHARED, LossFn, make_term, option_names

__all__ = ["build_loss", "check_loss_config", "CompositeLoss", "LOSSES", "LossFn"]


def term_options(cfg: LossConfig, name: str) -> dict[str, Any]:
    """The options of one term: its ``loss.options`` entry plus the shared keys it takes."""
    opts = dict(cfg.options.get(name) or {})  # type: ignore[call-overload]
    for key in SHARED:
        value = getattr(cfg, key)
        if value is not None and key in option_names(name):
            opts.setdefault(key, value)
    return opts


def check_loss_config(cfg: LossConfig) -> None:
    """Refuse what the losses would ignore: a shared key no term takes, options for a loss not in the sum,
    an option a loss does not take (ConfigError naming the key and the valid ones)."""
    for key in SHARED:
        if getattr(cfg, key) is None:
            continue
        if key == "include_background" and cfg.mode == "regions":
            raise ConfigError("loss.include_background: regions mode has no background channel; remove it")
        if not any(key in option_names(n) for n in cfg.terms):
            takers = ", ".join(n for n in LOSSES if key in option_names(n))
            raise ConfigError(f"loss.{key}: none of the losses {', '.join(cfg.terms)} use it; it applies to {takers}")
    for name in cfg.options:
        if name not in cfg.terms:
            raise ConfigError(f"loss.options.{name}: '{name}' is not one of the loss terms {', '.join(cfg.terms)}")
    for name in cfg.terms:
        make_term(name, cfg.mode, term_options(cfg, name))


Outputs = Union[torch.Tensor, list[torch.Tensor]]


class CompositeLoss(torch.nn.Module):
    """Weighted sum of named losses; handles deep-supervision lists (weights 1, 1/2, 1/4, ... normalised)."""

    def __init__(self, terms: dict[str, tuple[float, LossFn]]):
        super().__init__()
        self.terms = terms

    def set_epoch(self, epoch: int) -> None:
        """Forward the epoch to losses with a schedule (boundary)."""
        for _, fn in self.terms.values():
            if hasattr(fn, "set_epoch"):
                fn.set_epoch(epoch)

    def single(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The weighted sum for one output, computed in float32 for stability under autocast."""
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        return sum((w * fn(logits, target) for w, fn in self.terms.values()), torch.zeros((), device=logits.device))

    def forward(self, logits: Outputs, target: torch.Tensor) -> torch.Tensor:
        if not isinstance(logits, (list, tuple)):
            return self.single(logits, target)
        weights = [0.5**i for i in range(len(logits))]
        total = torch.zeros((), device=target.device)
        for w, out in zip(weights, logits):
            t = target if out.shape[2:] == target.shape[1:] else \
                F.interpolate(target[:, None].float(), size=out.shape[2:], mode="nearest")[:, 0].long()
            total = total + w * self.single(out, t)
        return total / sum(weights)


def build_loss(cfg: LossConfig) -> CompositeLoss:
    """The loss a ``loss:`` section describes, e.g. ``{terms: {dice: 1.0, ce: 1.0}, mode: regions}``."""
    check_loss_config(cfg)
    return CompositeLoss({name: (float(w), make_term(name, cfg.mode, term_options(cfg, name)))
                          for name, w in cfg.terms.items()})
