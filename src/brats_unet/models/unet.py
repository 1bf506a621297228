"""One U-Net class for the whole family (2D/3D, plain/residual blocks, optional attention gates).

Default configuration = the case study's Figure 1 (the Kaggle BraTS2020 reference): 2x128x128 input,
32-64-128-256 encoder + 512 bottleneck, two 3x3 convs + ReLU per level, He-normal init, 2x2 max-pool,
decoder = 2x up-sampling + 2x2 conv, concatenated skip, two 3x3 convs, dropout 0.2 at the
bottleneck, no normalisation, 1x1 conv to 4 logits (softmax lives in the loss / inference).
Ronneberger et al. 2015 (U-Net); Cicek et al. 2016 (3D U-Net).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .blocks import BLOCKS, AttentionGate, UpSample, conv


class UNet(nn.Module):
    """U-Net over (B, in_channels, *spatial) -> logits (B, num_classes, *spatial).

    With ``deep_supervision`` and in training mode, ``forward`` returns a list of logits, full
    resolution first, then one per coarser decoder level (nnU-Net style); in eval mode only the first.
    """

    def __init__(self, spatial_dims: int = 2, in_channels: int = 2, num_classes: int = 4,
                 base_features: int = 32, depth: int = 4, block: str = "plain", attention: bool = False,
                 activation: str = "relu", norm: str = "none", dropout: float = 0.2,
                 dropout_at: str = "bottleneck", upsample: str = "interp", deep_supervision: bool = False,
                 features: tuple[int, ...] | None = None):
        super().__init__()
        dims, make = spatial_dims, BLOCKS[block]
        # widths per level: doubling from base_features (Ronneberger), or given (MONAI BasicUNet: 32-32-64-128-256)
        feats = list(features) if features else [base_features * 2**i for i in range(depth + 1)]
        rate_enc = dropout if dropout_at == "all" else 0.0
        rate_dec = dropout if dropout_at in ("decoder", "all") else 0.0
        self.spatial_dims, self.in_channels, self.depth = dims, in_channels, depth
        self.deep_supervision = deep_supervision
        levels = list(reversed(range(depth)))  # decoder order: deepest first
        self.encoder = nn.ModuleList(make(dims, cin, cout, norm, activation, rate_enc)
                                     for cin, cout in zip([in_channels] + feats[:-2], feats[:-1]))
        self.pool = (nn.MaxPool2d if dims == 2 else nn.MaxPool3d)(2)
        rate_mid = dropout if dropout_at != "decoder" else 0.0
        self.bottleneck = make(dims, feats[-2], feats[-1], norm, activation, rate_mid)
        self.ups = nn.ModuleList(UpSample(dims, feats[i + 1], feats[i], upsample, activation) for i in levels)
        self.gates = nn.ModuleList(AttentionGate(dims, feats[i], feats[i]) for i in levels) if attention else None
        self.decoder = nn.ModuleList(make(dims, 2 * feats[i], feats[i], norm, activation, rate_dec) for i in levels)
        self.head = conv(dims, feats[0], num_classes, 1)
        self.aux_heads = nn.ModuleList(conv(dims, feats[i], num_classes, 1) for i in range(1, depth)) \
            if deep_supervision else None
        self.apply(_he_normal)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ConfigError for a wrong channel count or a size not divisible by 2**depth."""
        if x.dim() != self.spatial_dims + 2:
            raise ConfigError(f"expected a {self.spatial_dims + 2}D input (B, C, *spatial), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ConfigError(f"model expects {self.in_channels} input channels, got {x.shape[1]}: "
                              "check data.modalities")
        step = 2**self.depth
        bad = [s for s in x.shape[2:] if s % step]
        if bad:
            fix = [-(-s // step) * step for s in x.shape[2:]]
            raise ConfigError(f"input size {tuple(x.shape[2:])} is not divisible by 2**depth = {step}; "
                              f"pad to {tuple(fix)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        self.check_input(x)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        outputs = []
        for i, (up, block) in enumerate(zip(self.ups, self.decoder)):
            x = up(x)
            skip = skips[-1 - i]
            if self.gates is not None:
                skip = self.gates[i](skip, x)
            x = block(torch.cat([skip, x], dim=1))
            outputs.append(x)
        logits = self.head(x)
        if self.aux_heads is None or not self.training:
            return logits
        aux = [head(feat) for head, feat in zip(self.aux_heads, outputs[-2::-1])]  # feats[1], feats[2], ...
        return [logits] + aux


def _he_normal(module: nn.Module) -> None:
    """He-normal (fan-in) init for convolutions, zero biases, as Keras ``he_normal``."""
    if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
