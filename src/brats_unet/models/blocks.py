"""Building blocks of the U-Net family, for 2D (B, C, H, W) and 3D (B, C, D, H, W) tensors."""

from __future__ import annotations

import torch
from torch import nn

from .registry import ACTIVATIONS, NORMS


def conv(dims: int, cin: int, cout: int, kernel: int = 3) -> nn.Module:
    """'same'-padded convolution; an even kernel pads one extra zero after, as Keras 'same' does."""
    cls = nn.Conv2d if dims == 2 else nn.Conv3d
    if kernel % 2:
        return cls(cin, cout, kernel, padding=kernel // 2)
    before, after = kernel // 2 - 1, kernel // 2
    pad = nn.ZeroPad2d((before, after) * 2) if dims == 2 else nn.ZeroPad3d((before, after) * 3)
    return nn.Sequential(pad, cls(cin, cout, kernel))


def norm_act(dims: int, ch: int, norm: str, activation: str) -> list[nn.Module]:
    """[norm?, activation] for ``ch`` channels."""
    make_norm = NORMS[norm]
    return ([make_norm(dims, ch)] if make_norm else []) + [ACTIVATIONS[activation](ch)]


def dropout(rate: float) -> list[nn.Module]:
    """Element-wise dropout (as Keras ``Dropout``) when ``rate > 0``."""
    return [nn.Dropout(rate)] if rate > 0 else []


class PlainBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by [norm] + activation (Ronneberger et al. 2015)."""

    def __init__(self, dims: int, cin: int, cout: int, norm: str, activation: str, rate: float = 0.0):
        layers = [conv(dims, cin, cout), *norm_act(dims, cout, norm, activation),
                  conv(dims, cout, cout), *norm_act(dims, cout, norm, activation), *dropout(rate)]
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Pre-activation residual block: x + conv(act(norm(conv(act(norm(x)))))).

    Pre-activation as in He et al. 2016 ("Identity mappings") and Zhang et al. 2018 (ResUNet); a 1x1
    convolution projects the shortcut when the channel count changes.
    """

    def __init__(self, dims: int, cin: int, cout: int, norm: str, activation: str, rate: float = 0.0):
        super().__init__()
        self.body = nn.Sequential(*norm_act(dims, cin, norm, activation), conv(dims, cin, cout),
                                  *norm_act(dims, cout, norm, activation), conv(dims, cout, cout),
                                  *dropout(rate))
        self.shortcut = conv(dims, cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.body(x)


BLOCKS = {"plain": PlainBlock, "residual": ResidualBlock}


class AttentionGate(nn.Module):
    """Additive attention gate on a skip connection (Oktay et al. 2018).

    alpha = sigmoid(psi(relu(W_x x + W_g g))); returns x * alpha. The gate ``g`` is the decoder feature
    already up-sampled to the skip's resolution (as MONAI's AttentionUnet does).
    """

    def __init__(self, dims: int, skip_ch: int, gate_ch: int):
        super().__init__()
        inter = max(1, skip_ch // 2)
        self.w_x = conv(dims, skip_ch, inter, 1)
        self.w_g = conv(dims, gate_ch, inter, 1)
        self.psi = conv(dims, inter, 1, 1)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid(self.psi(torch.relu(self.w_x(x) + self.w_g(g))))
        return x * alpha


class UpSample(nn.Module):
    """2x up-sampling: nearest up-sampling + 2x2 conv (the paper / Keras reference) or a transposed conv."""

    def __init__(self, dims: int, cin: int, cout: int, mode: str, activation: str):
        super().__init__()
        self.op: nn.Module
        if mode == "transpose":
            cls = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
            self.op = cls(cin, cout, 2, stride=2)
        else:
            self.op = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv(dims, cin, cout, 2),
                                    ACTIVATIONS[activation](cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)
