"""Batch-level augmentation in torch (runs on the training device, 2D or 3D).

Random flips of the in-plane axes, a small in-plane rotation and isotropic scaling (images bilinear,
labels nearest: labels are never interpolated), and per-channel intensity scale/shift jitter.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment_batch(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                  max_rotate_deg: float = 15.0, scale: tuple[float, float] = (0.9, 1.1),
                  jitter: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch: images (B, C, *spatial), labels (B, *spatial) int64. Returns new tensors."""
    images, labels = _flip(images, labels, generator)
    images, labels = _rotate_scale(images, labels, generator, max_rotate_deg, scale)
    b, c = images.shape[:2]
    shape = (b, c) + (1,) * (images.dim() - 2)
    gain = 1 + jitter * (2 * torch.rand(shape, generator=generator) - 1)
    shift = jitter * (2 * torch.rand(shape, generator=generator) - 1)
    return images * gain.to(images) + shift.to(images), labels


def _flip(images, labels, generator):
    """Flip each sample independently along each of the two in-plane (last) axes."""
    images, labels = images.clone(), labels.clone()
    for axis in (-1, -2):
        mask = torch.rand(images.shape[0], generator=generator) < 0.5
        if mask.any():
            images[mask] = images[mask].flip(axis)
            labels[mask] = labels[mask].flip(axis)
    return images, labels


def _rotate_scale(images, labels, generator, max_deg, scale):
    """In-plane rotation + isotropic scale via affine_grid / grid_sample (zero / background padding)."""
    b, dims = images.shape[0], images.dim() - 2
    angle = (2 * torch.rand(b, generator=generator) - 1) * math.radians(max_deg)
    factor = scale[0] + (scale[1] - scale[0]) * torch.rand(b, generator=generator)
    theta = torch.zeros(b, dims, dims + 1)
    for i in range(dims):
        theta[:, i, i] = 1.0 / factor
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    # grid coordinates run (x=W, y=H[, z=D]): rows 0 and 1 are the in-plane axes in 2D and 3D
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    theta = theta.to(images.device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
    lab = F.grid_sample(labels[:, None].to(images.dtype), grid.to(images.dtype), mode="nearest",
                        padding_mode="zeros", align_corners=False)
    return out, lab[:, 0].round().long()
