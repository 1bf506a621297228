"""Plain-dict registries of the U-Net family. Variants are values in these dicts, never subclasses.

Their keys are exactly the ``Literal`` choices of ``ModelConfig`` (a contract test checks it), so a
config naming an unknown variant is refused at load, before any data is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from torch import nn


def _norm_batch(dims: int, ch: int) -> nn.Module:
    return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d)(ch)


def _norm_instance(dims: int, ch: int) -> nn.Module:
    return (nn.InstanceNorm2d if dims == 2 else nn.InstanceNorm3d)(ch, affine=True)


def _norm_group(dims: int, ch: int) -> nn.Module:
    return nn.GroupNorm(min(8, ch), ch)


ACTIVATIONS: dict[str, Callable[[int], nn.Module]] = {
    "relu": lambda ch: nn.ReLU(),
    "prelu": lambda ch: nn.PReLU(ch),  # one learnable slope per channel (He et al. 2015)
    "leaky_relu": lambda ch: nn.LeakyReLU(0.01),
}

NORMS: dict[str, Optional[Callable[[int, int], nn.Module]]] = {
    "none": None,
    "batch": _norm_batch,
    "instance": _norm_instance,
    "group": _norm_group,  # 8 groups (fewer for narrow layers)
}



@dataclass(frozen=True)
class ArchSpec:
    """What an architecture name stands for: the convolution block and whether skips are gated."""

    block: str  # a key of blocks.BLOCKS
    attention: bool


# Ronneberger 2015 (U-Net); He 2016 / Zhang 2018 (residual); Oktay 2018 (attention gates).
ARCHITECTURES: dict[str, ArchSpec] = {
    "unet": ArchSpec("plain", attention=False),
    "residual_unet": ArchSpec("residual", attention=False),
    "attention_unet": ArchSpec("plain", attention=True),
}
