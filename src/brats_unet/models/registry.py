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


def instance_norm_as_group_norm(model: nn.Module) -> int:
    """Replace, in place, every 2D ``InstanceNorm2d(C, affine=True)`` of ``model`` by ``GroupNorm(C, C)`` with
    its weights, for inference on the CPU; returns how many were replaced.

    The two compute the same normalisation (one channel per group, statistics over H x W, eps 1e-5) and have
    the same parameters. PyTorch's InstanceNorm runs batch norm over a reshaped copy and hands back a layout
    the next channels-last convolution must reorder; GroupNorm keeps it: the recommended network infers 1.23x
    faster in bf16 (Zen 5) and 1.48x in fp32 (Zen 3). Training keeps InstanceNorm2d, whose backward pass was
    the faster one in bf16 (GroupNorm's step 0.74x; ``benchmarks/bench_norm.py``).
    """
    swapped = 0
    for name, module in list(model.named_modules()):
        if type(module) is nn.InstanceNorm2d and module.affine and not module.track_running_stats:
            norm = nn.GroupNorm(module.num_features, module.num_features, eps=module.eps)
            norm.load_state_dict(module.state_dict())
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent), leaf, norm.to(module.weight.device).train(module.training))
            swapped += 1
    return swapped


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
