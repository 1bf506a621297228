"""The U-Net family: ``build_model(cfg.model, in_channels, num_classes)`` over one registry."""

from __future__ import annotations

from ..config import ModelConfig
from ..errors import look_up
from .registry import ACTIVATIONS, ARCHITECTURES, NORMS, instance_norm_as_group_norm
from .unet import UNet

__all__ = ["build_model", "instance_norm_as_group_norm", "UNet", "ARCHITECTURES", "ACTIVATIONS", "NORMS"]


def build_model(cfg: ModelConfig, in_channels: int, num_classes: int) -> UNet:
    """Build the model a ``model:`` section describes (``arch`` in ARCHITECTURES, options as values).

    ``in_channels`` / ``num_classes`` come from the whole config (``Config.in_channels``, ``Config.num_classes``).
    """
    arch = look_up(cfg.arch, ARCHITECTURES, "model.arch")
    return UNet(spatial_dims=cfg.spatial_dims, in_channels=in_channels, num_classes=num_classes,
                base_features=cfg.base_features, depth=cfg.depth, activation=cfg.activation, norm=cfg.norm,
                dropout=cfg.dropout, dropout_at=cfg.dropout_at, upsample=cfg.upsample,
                deep_supervision=cfg.deep_supervision, features=cfg.features,
                block=arch.block, attention=arch.attention)
