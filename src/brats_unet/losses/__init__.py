"""Losses: ``build_loss(config)`` turns ``loss.terms`` into one weighted-sum module."""

from __future__ import annotations

import functools
import inspect

import torch
import torch.nn.functional as F

from ..config import Config
from ..errors import ConfigError, closest, look_up
from .registry import COMMON, LOSSES

__all__ = ["build_loss", "CompositeLoss", "LOSSES"]


def _options(name: str, fn, given: dict) -> dict:
    """Validate per-loss options against the function's own parameters."""
    target = fn.__init__ if inspect.isclass(fn) else fn
    valid = [p for p in inspect.signature(target).parameters if p not in ("self", "logits", "target", *COMMON)]
    for key in given:
        if key not in valid:
            raise ConfigError(f"loss.options.{name}: unknown option '{key}'{closest(key, valid)}; valid: {', '.join(valid)}")
    return dict(given)


def make_term(name: str, cfg: Config):
    """One configured loss callable ``(logits, target) -> scalar``."""
    lc = cfg.loss
    fn = look_up(name, LOSSES, "loss")
    opts = _options(name, fn, lc.options.get(name, {}))
    common = {"mode": lc.mode, "include_background": lc.include_background, "class_weights": lc.class_weights}
    if name == "boundary":
        region_name = opts.pop("region", "dice")
        region = functools.partial(look_up(region_name, LOSSES, "boundary region loss"), **common)
        return fn(region=region, mode=lc.mode, **opts)
    return functools.partial(fn, **common, **opts)


class CompositeLoss(torch.nn.Module):
    """Weighted sum of named losses; handles deep-supervision lists (weights 1, 1/2, 1/4, ... normalised)."""

    def __init__(self, terms: dict[str, tuple[float, object]]):
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
        return sum(w * fn(logits, target) for w, fn in self.terms.values())

    def forward(self, logits, target: torch.Tensor) -> torch.Tensor:
        if not isinstance(logits, (list, tuple)):
            return self.single(logits, target)
        weights = [0.5**i for i in range(len(logits))]
        total = 0.0
        for w, out in zip(weights, logits):
            t = target if out.shape[2:] == target.shape[1:] else \
                F.interpolate(target[:, None].float(), size=out.shape[2:], mode="nearest")[:, 0].long()
            total = total + w * self.single(out, t)
        return total / sum(weights)


def build_loss(cfg: Config) -> CompositeLoss:
    """The loss a config describes, e.g. ``loss: {dice: 1.0, ce: 1.0}``."""
    if not cfg.loss.terms:
        raise ConfigError("loss: name at least one loss, e.g. loss=ce")
    return CompositeLoss({name: (float(w), make_term(name, cfg)) for name, w in cfg.loss.terms.items()})
