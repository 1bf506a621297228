"""The loss registry: one plain dict from config name to a factory ``factory(mode, **options) -> loss``.

Every entry has that one shape. A plain loss function becomes a factory that binds ``mode`` and its
options; the factory keeps the function's signature, which is what option checking reads. Keys are
exactly the ``LossName`` choices of the config (a contract test checks it).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Optional

import torch

from ..errors import ConfigError, closest, look_up
from . import functional as L
from .boundary import BoundaryLoss

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits (B, K, *spatial), labels (B, *spatial))
Factory = Callable[..., LossFn]
SHARED = ("include_background", "class_weights")  # loss-section keys that go to every term taking them


def _factory(fn: Callable[..., torch.Tensor]) -> Factory:
    """Wrap a loss function as a factory with the function's own options as its signature."""
    def factory(mode: str, **options: Any) -> LossFn:
        return functools.partial(fn, mode=mode, **options)

    params = [p for name, p in inspect.signature(fn).parameters.items() if name not in ("logits", "target")]
    factory.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # read by option checks
    factory.__name__, factory.__doc__ = fn.__name__, fn.__doc__
    return factory


def _boundary(mode: str, region: str = "dice", include_background: Optional[bool] = None,
              class_weights: Optional[Sequence[float]] = None, alpha_start: float = 1.0, alpha_step: float = 0.01,
              alpha_min: float = 0.01) -> LossFn:
    """Boundary loss (Kervadec et al. 2019) blended with the ``region`` loss by a falling alpha.

    ``include_background`` / ``class_weights`` go to the region loss (an error if it takes neither).
    """
    if region == "boundary":
        raise ConfigError("loss.options.boundary.region: the region loss cannot be 'boundary' itself; e.g. dice")
    shared = {k: v for k, v in (("include_background", include_background), ("class_weights", class_weights))
              if v is not None}
    return BoundaryLoss(make_term(region, mode, shared, f"boundary region loss '{region}'"), mode,
                        alpha_start, alpha_step, alpha_min)


LOSSES: dict[str, Factory] = {
    "ce": _factory(L.cross_entropy),
    "weighted_ce": _factory(L.weighted_cross_entropy),
    "dice": _factory(L.dice),
    "focal": _factory(L.focal),
    "tversky": _factory(L.tversky),
    "focal_tversky": _factory(L.focal_tversky),
    "combo": _factory(L.combo),
    "unified_focal": _factory(L.unified_focal),
    "boundary": _boundary,
}


def option_names(name: str) -> list[str]:
    """The options a registered loss takes (``mode`` excluded)."""
    return [p for p in inspect.signature(look_up(name, LOSSES, "loss")).parameters if p != "mode"]


def make_term(name: str, mode: str, options: dict[str, Any], where: Optional[str] = None) -> LossFn:
    """One configured loss callable ``(logits, target) -> scalar``; ConfigError for an option it does not take."""
    valid = option_names(name)
    for key in options:
        if key not in valid:
            raise ConfigError(f"{where or f'loss.options.{name}'}: unknown option '{key}'{closest(key, valid)}; "
                              f"valid: {', '.join(valid) or 'none'}")
    return LOSSES[name](mode=mode, **options)
