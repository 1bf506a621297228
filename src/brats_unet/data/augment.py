"""Batch-level augmentation in torch (runs on the training device, 2D or 3D), chosen by ``data.augmentation``.

- ``light``: random flips of the in-plane axes, a small in-plane rotation and isotropic scaling, and per-channel
  intensity scale/shift jitter.
- ``nnunet``: nnU-Net's default training augmentation, with its probabilities and ranges (Isensee et al.,
  "nnU-Net: a self-configuring method for deep learning-based biomedical image segmentation", Nature Methods
  2021, supplementary note 4; ``nnUNetTrainer.get_training_transforms``): rotation and scaling 0.7-1.4,
  Gaussian noise, Gaussian blur, multiplicative brightness, contrast, low-resolution simulation, gamma
  (inverted and plain) and mirroring of every spatial axis. Rotation stays in-plane in 3D (our volumes are
  anisotropic slices stacks resampled to 1 mm, and the 2D recipe is the one it is screened with).

Images are interpolated bilinearly, labels by nearest neighbour: labels are never interpolated. Every draw comes
from the caller's ``generator`` (CPU), so an epoch's augmentation repeats exactly from its seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import look_up

Augmentation = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def augment_batch(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                  max_rotate_deg: float = 15.0, scale: tuple[float, float] = (0.9, 1.1),
                  jitter: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """``light``: augment images (B, C, *spatial) and labels (B, *spatial) int64. Returns new tensors."""
    images, labels = _flip(images, labels, generator, axes=(-1, -2))
    b = images.shape[0]
    angle = (2 * torch.rand(b, generator=generator) - 1) * math.radians(max_rotate_deg)
    factor = scale[0] + (scale[1] - scale[0]) * torch.rand(b, generator=generator)
    images, labels = _rotate_scale(images, labels, angle, factor)
    gain = 1 + jitter * (2 * _rand(images, generator, per_channel=True) - 1)
    shift = jitter * (2 * _rand(images, generator, per_channel=True) - 1)
    return images * gain + shift, labels


@dataclass(frozen=True)
class NnUNetAug:
    """nnU-Net's default probabilities (per sample; ``*_channel``: per channel of a chosen sample) and ranges."""

    p_rotate: float = 0.2
    max_rotate_deg: float = 180.0  # nnU-Net's 2D range; in-plane in 3D (module docstring)
    p_scale: float = 0.2
    scale: tuple[float, float] = (0.7, 1.4)
    p_noise: float = 0.1
    noise_variance: tuple[float, float] = (0.0, 0.1)
    p_blur: float = 0.2
    p_blur_channel: float = 0.5
    blur_sigma: tuple[float, float] = (0.5, 1.0)
    p_brightness: float = 0.15
    brightness: tuple[float, float] = (0.75, 1.25)
    p_contrast: float = 0.15
    contrast: tuple[float, float] = (0.75, 1.25)
    p_lowres: float = 0.25
    p_lowres_channel: float = 0.5
    lowres_zoom: tuple[float, float] = (0.5, 1.0)
    p_gamma_inverted: float = 0.1
    p_gamma: float = 0.3
    gamma: tuple[float, float] = (0.7, 1.5)
    p_mirror: float = 0.5  # per spatial axis


def nnunet_batch(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                 p: NnUNetAug = NnUNetAug()) -> tuple[torch.Tensor, torch.Tensor]:
    """``nnunet``: images (B, C, *spatial) float, labels (B, *spatial) int64, in nnU-Net's order."""
    b = images.shape[0]
    rotate = torch.rand(b, generator=generator) < p.p_rotate
    angle = (2 * torch.rand(b, generator=generator) - 1) * math.radians(p.max_rotate_deg) * rotate
    scaled = torch.rand(b, generator=generator) < p.p_scale
    factor = torch.where(scaled, _uniform(b, p.scale, generator), torch.ones(b))
    if bool((rotate | scaled).any()):
        images, labels = _rotate_scale(images, labels, angle, factor)
    images = _noise(images, generator, p)
    images = _blur(images, generator, p)
    images = _brightness_contrast(images, generator, p)
    images = _lowres(images, generator, p)
    images = _gamma(images, generator, p.p_gamma_inverted, p.gamma, invert=True)
    images = _gamma(images, generator, p.p_gamma, p.gamma, invert=False)
    spatial = tuple(range(-(images.dim() - 2), 0))
    return _flip(images, labels, generator, axes=spatial, p=p.p_mirror)


AUGMENTATIONS: dict[str, Augmentation] = {"light": augment_batch, "nnunet": nnunet_batch}


def build_augmentation(name: str) -> Augmentation:
    """The augmentation registered as ``name`` (``data.augmentation``)."""
    return look_up(name, AUGMENTATIONS, "data.augmentation")


def _uniform(n: int, lo_hi: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * torch.rand(n, generator=generator)


def _rand(images: torch.Tensor, generator: torch.Generator, per_channel: bool) -> torch.Tensor:
    """Uniform [0, 1) of shape (B, C or 1, 1, ...) on the images' device and dtype, drawn on the CPU."""
    b, c = images.shape[:2]
    shape = (b, c if per_channel else 1) + (1,) * (images.dim() - 2)
    return torch.rand(shape, generator=generator).to(images)


def _chosen(images: torch.Tensor, generator: torch.Generator, p_sample: float, p_channel: float = 1.0):
    """(B, C, 1, ...) bool: the (sample, channel) pairs a transform applies to."""
    sample = _rand(images, generator, per_channel=False) < p_sample
    return sample & (_rand(images, generator, per_channel=True) < p_channel)


def _flip(images, labels, generator, axes: tuple[int, ...], p: float = 0.5):
    """Flip each sample independently along each of ``axes`` (negative: counted from the last)."""
    images, labels = images.clone(), labels.clone()
    for axis in axes:
        mask = torch.rand(images.shape[0], generator=generator) < p
        if mask.any():
            mask = mask.to(images.device)
            images[mask] = images[mask].flip(axis)
            labels[mask] = labels[mask].flip(axis)
    return images, labels


def _rotate_scale(images, labels, angle: torch.Tensor, factor: torch.Tensor):
    """In-plane rotation by ``angle`` (B,) radians and isotropic zoom by ``factor`` (B,) via affine_grid /
    grid_sample: images bilinear with zero padding, labels nearest with background padding."""
    b, dims = images.shape[0], images.dim() - 2
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


def _noise(images, generator, p: NnUNetAug):
    """Additive Gaussian noise on chosen samples, variance drawn per sample from ``noise_variance``."""
    on = torch.rand(images.shape[0], generator=generator) < p.p_noise
    sd = _uniform(images.shape[0], p.noise_variance, generator).sqrt()
    if not bool(on.any()):
        return images
    idx = on.nonzero()[:, 0]
    noise = torch.randn((len(idx),) + tuple(images.shape[1:]), generator=generator)
    noise = noise * sd[idx].view((-1,) + (1,) * (images.dim() - 1))
    out = images.clone()
    out[idx.to(images.device)] += noise.to(images)
    return out


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of one channel (*spatial), truncated at 4 sigma, edges replicated."""
    radius = max(1, int(4 * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(image)
    out = image
    for axis in range(image.dim()):
        moved = out.movedim(axis, -1)
        flat = F.pad(moved.reshape(-1, 1, moved.shape[-1]), (radius, radius), mode="replicate")
        out = F.conv1d(flat, kernel.view(1, 1, -1)).reshape(moved.shape).movedim(-1, axis)
    return out


def _per_channel(images, on: list[bool], params: list[float], fn) -> torch.Tensor:
    """``fn(channel (*spatial), param)`` on the chosen (sample, channel) pairs, flattened in (B, C) order."""
    if not any(on):
        return images
    out = images.clone()
    flat = out.view(-1, *images.shape[2:])
    for i in [i for i, flag in enumerate(on) if flag]:
        flat[i] = fn(flat[i], params[i])
    return out


def _blur(images, generator, p: NnUNetAug):
    """Gaussian blur of chosen channels, sigma drawn per channel from ``blur_sigma``."""
    on = _chosen(images, generator, p.p_blur, p.p_blur_channel).flatten().tolist()
    return _per_channel(images, on, _uniform(len(on), p.blur_sigma, generator).tolist(), gaussian_blur)


def _brightness_contrast(images, generator, p: NnUNetAug):
    """Multiplicative brightness, then contrast about the channel mean with the channel's range preserved."""
    dims = tuple(range(2, images.dim()))
    gain = torch.where(_chosen(images, generator, p.p_brightness),
                       p.brightness[0] + (p.brightness[1] - p.brightness[0]) * _rand(images, generator, True), 1.0)
    images = images * gain
    on = _chosen(images, generator, p.p_contrast)
    factor = p.contrast[0] + (p.contrast[1] - p.contrast[0]) * _rand(images, generator, True)
    if not bool(on.any()):
        return images
    mean = images.mean(dims, keepdim=True)
    lo, hi = images.amin(dims, keepdim=True), images.amax(dims, keepdim=True)
    contrasted = torch.minimum(torch.maximum((images - mean) * factor + mean, lo), hi)
    return torch.where(on, contrasted, images)


def _lowres(images, generator, p: NnUNetAug):
    """Low-resolution simulation: nearest down-sampling by a zoom from ``lowres_zoom``, cubic (2D) or
    trilinear (3D) up-sampling back to the grid."""
    on = _chosen(images, generator, p.p_lowres, p.p_lowres_channel).flatten().tolist()
    shape = tuple(images.shape[2:])
    up = "bicubic" if len(shape) == 2 else "trilinear"

    def lower(channel: torch.Tensor, zoom: float) -> torch.Tensor:
        low = F.interpolate(channel[None, None], size=[max(1, round(n * zoom)) for n in shape], mode="nearest")
        return F.interpolate(low, size=shape, mode=up, align_corners=False)[0, 0]

    return _per_channel(images, on, _uniform(len(on), p.lowres_zoom, generator).tolist(), lower)


def _gamma(images, generator, p_sample: float, gamma: tuple[float, float], invert: bool):
    """Gamma on each channel rescaled to [0, 1], mean and sd restored; one gamma per sample, half of the draws
    below 1; ``invert``: on the negated image (nnU-Net's inverted gamma)."""
    b = images.shape[0]
    on = torch.rand(b, generator=generator) < p_sample
    below = torch.rand(b, generator=generator) < 0.5
    g = torch.where(below, _uniform(b, (gamma[0], 1.0), generator), _uniform(b, (1.0, gamma[1]), generator))
    if not bool(on.any()):
        return images
    idx = on.nonzero()[:, 0]
    dims = tuple(range(2, images.dim()))
    x = images[idx.to(images.device)]
    x = -x if invert else x
    mean, sd = x.mean(dims, keepdim=True), x.std(dims, keepdim=True)
    lo, hi = x.amin(dims, keepdim=True), x.amax(dims, keepdim=True)
    shape = (-1,) + (1,) * (images.dim() - 1)
    y = ((x - lo) / (hi - lo + 1e-7)).clamp(0, 1) ** g[idx].to(images).view(shape) * (hi - lo) + lo
    y = (y - y.mean(dims, keepdim=True)) / (y.std(dims, keepdim=True) + 1e-8) * sd + mean
    out = images.clone()
    out[idx.to(images.device)] = -y if invert else y
    return out
