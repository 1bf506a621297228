"""Plain-dict registries of the U-Net family. Variants are values in these dicts, never subclasses."""

from __future__ import annotations

from torch import nn


def _norm_batch(dims: int, ch: int) -> nn.Module:
    return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d)(ch)


def _norm_instance(dims: int, ch: int) -> nn.Module:
    return (nn.InstanceNorm2d if dims == 2 else nn.InstanceNorm3d)(ch, affine=True)


def _norm_group(dims: int, ch: int) -> nn.Module:
    return nn.GroupNorm(min(8, ch), ch)


ACTIVATIONS = {
    "relu": lambda ch: nn.ReLU(),
    "prelu": lambda ch: nn.PReLU(ch),  # one learnable slope per channel (He et al. 2015)
    "leaky_relu": lambda ch: nn.LeakyReLU(0.01),
}

NORMS = {
    "none": None,
    "batch": _norm_batch,
    "instance": _norm_instance,
    "group": _norm_group,  # 8 groups (fewer for narrow layers)
}

# arch name -> the block and skip options it stands for (Ronneberger 2015; He 2016 / Zhang 2018; Oktay 2018).
ARCHITECTURES = {
    "unet": {"block": "plain", "attention": False},
    "residual_unet": {"block": "residual", "attention": False},
    "attention_unet": {"block": "plain", "attention": True},
}
