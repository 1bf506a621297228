"""Augmentations (data/augment.py): the registry matches the config's choices; every entry keeps shapes,
never interpolates labels and repeats from its seed; nnU-Net's transforms do what its paper says, each checked
alone with its probability forced to 1."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import torch

from brats_unet.config import DataConfig
from brats_unet.data import augment as A
from brats_unet.errors import ConfigError

OFF = A.NnUNetAug(**{f.name: 0.0 for f in dataclasses.fields(A.NnUNetAug) if f.name.startswith("p_")})


def _batch(dims: int = 2, b: int = 4, c: int = 2, size: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape = (size,) * dims
    images = torch.randn((b, c) + shape, generator=g)
    labels = torch.zeros((b,) + shape, dtype=torch.long)
    labels[(slice(None),) + (slice(8, 20),) * dims] = 2
    labels[(slice(None),) + (slice(12, 16),) * dims] = 3
    return images, labels


def test_registry_matches_the_config_choices():
    assert set(A.AUGMENTATIONS) == set(typing.get_args(typing.get_type_hints(DataConfig)["augmentation"]))


def test_unknown_name_lists_the_options_with_the_closest():
    with pytest.raises(ConfigError, match=r"data.augmentation 'nnunt'; options: light, nnunet; did you mean 'nnunet'"):
        A.build_augmentation("nnunt")


@pytest.mark.parametrize("name", sorted(A.AUGMENTATIONS))
@pytest.mark.parametrize("dims", [2, 3])
def test_contract_shapes_labels_and_seed(name, dims):
    images, labels = _batch(dims, size=16 if dims == 3 else 32)
    aug = A.build_augmentation(name)
    out, lab = aug(images, labels, torch.Generator().manual_seed(3))
    again, lab2 = aug(images, labels, torch.Generator().manual_seed(3))
    assert out.shape == images.shape and lab.shape == labels.shape and lab.dtype == torch.long
    assert set(lab.unique().tolist()) <= {0, 2, 3}  # nearest neighbour: no label in between
    assert torch.equal(out, again) and torch.equal(lab, lab2)
    assert torch.isfinite(out).all()
    assert not torch.equal(out, images)


def test_nnunet_everything_off_is_the_identity():
    images, labels = _batch()
    out, lab = A.nnunet_batch(images, labels, torch.Generator().manual_seed(0), OFF)
    assert torch.equal(out, images) and torch.equal(lab, labels)


def test_nnunet_mirror_flips_image_and_labels_together():
    images, labels = _batch()
    images[:, 0] = labels.float()  # channel 0 spells the labels: a flip must move both alike
    out, lab = A.nnunet_batch(images, labels, torch.Generator().manual_seed(1), dataclasses.replace(OFF, p_mirror=1.0))
    assert torch.equal(out[:, 0], lab.float())
    assert torch.equal(lab, labels.flip(-1).flip(-2))


def test_nnunet_rotation_keeps_image_and_labels_aligned():
    images, labels = _batch(size=64)
    images[:, 0] = labels.float()
    p = dataclasses.replace(OFF, p_rotate=1.0, p_scale=1.0)
    out, lab = A.nnunet_batch(images, labels, torch.Generator().manual_seed(2), p)
    inside = lab == 3  # bilinear image values deep inside the rotated ET block stay near 3
    assert not torch.equal(lab, labels) and (out[:, 0][inside] > 1.5).float().mean() > 0.9


def test_gamma_keeps_each_channels_mean_and_sd():
    images = torch.rand(2, 3, 16, 16) * 4 + 1
    for invert in (False, True):
        out = A._gamma(images, torch.Generator().manual_seed(0), 1.0, (0.7, 1.5), invert=invert)
        assert not torch.allclose(out, images)
        assert torch.allclose(out.mean((2, 3)), images.mean((2, 3)), atol=1e-4)
        assert torch.allclose(out.std((2, 3)), images.std((2, 3)), atol=1e-4)


def test_contrast_keeps_the_range_and_brightness_scales():
    images = torch.rand(2, 1, 16, 16)
    p = dataclasses.replace(OFF, p_contrast=1.0)
    out = A._brightness_contrast(images, torch.Generator().manual_seed(0), p)
    assert (out.amin((2, 3)) >= images.amin((2, 3)) - 1e-6).all()
    assert (out.amax((2, 3)) <= images.amax((2, 3)) + 1e-6).all()
    p = dataclasses.replace(OFF, p_brightness=1.0)
    out = A._brightness_contrast(images, torch.Generator().manual_seed(0), p)
    ratio = out / images
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)  # one gain per channel
    assert ((ratio[:, :, 0, 0] >= 0.75) & (ratio[:, :, 0, 0] <= 1.25)).all()


def test_gaussian_blur_matches_the_hand_computed_kernel():
    image = torch.zeros(9, 9)
    image[4, 4] = 1.0
    out = A.gaussian_blur(image, 1.0)
    x = torch.arange(-4, 5, dtype=torch.float32)
    k = torch.exp(-0.5 * x**2)
    k = k / k.sum()
    assert torch.allclose(out, k[:, None] * k[None, :], atol=1e-6)
    assert torch.allclose(A.gaussian_blur(torch.full((5, 6, 7), 2.0), 0.7), torch.full((5, 6, 7), 2.0))


def test_lowres_with_zoom_one_is_the_identity_and_smaller_zoom_loses_detail():
    images = torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    same = dataclasses.replace(OFF, p_lowres=1.0, p_lowres_channel=1.0, lowres_zoom=(1.0, 1.0))
    assert torch.allclose(A._lowres(images, torch.Generator(), same), images, atol=1e-5)
    half = dataclasses.replace(same, lowres_zoom=(0.5, 0.5))
    out = A._lowres(images, torch.Generator(), half)
    assert (out[..., 1:] - out[..., :-1]).abs().mean() < (images[..., 1:] - images[..., :-1]).abs().mean()


def test_noise_variance_is_drawn_from_its_range():
    images = torch.zeros(8, 1, 64, 64)
    p = dataclasses.replace(OFF, p_noise=1.0)
    out = A._noise(images, torch.Generator().manual_seed(0), p)
    var = out.var((1, 2, 3))
    assert (var > 0).all() and (var < 0.1 * 1.1).all()
