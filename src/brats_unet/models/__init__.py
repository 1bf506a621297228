"""The U-Net family: ``build_model(config)`` over one registry."""

from __future__ import annotations

from ..config import Config, in_channels, num_classes
from ..errors import look_up
from .registry import ACTIVATIONS, ARCHITECTURES, NORMS
from .unet import UNet

__all__ = ["build_model", "UNet", "ARCHITECTURES", "ACTIVATIONS", "NORMS"]


def build_model(cfg: Config) -> UNet:
    """Build the model a config describes (``model.arch`` in ARCHITECTURES, options as values)."""
    m = cfg.model
    arch = look_up(m.arch, ARCHITECTURES, "model.arch")
    look_up(m.activation, ACTIVATIONS, "model.activation")
    look_up(m.norm, NORMS, "model.norm")
    return UNet(spatial_dims=m.spatial_dims, in_channels=in_channels(cfg), num_classes=num_classes(cfg),
                base_features=m.base_features, depth=m.depth, activation=m.activation, norm=m.norm,
                dropout=m.dropout, dropout_at=m.dropout_at, upsample=m.upsample,
                deep_supervision=m.deep_supervision, **arch)
