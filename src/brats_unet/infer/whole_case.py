"""Apply a model to a whole preprocessed case: 2D slice batches or 3D sliding windows, optional flip TTA.

Shared by validation (train/) and prediction (predict.py); no file I/O here. Inputs are padded to the
network's spatial multiple (``2**model.depth``) and the padding is cut off the output again.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Optional

import torch

from ..brats import from_regions
from ..config import DEFAULT_MULTIPLE, Config
from ..data.neighbour_slices import neighbours, stack_context
from ..device import autocast, memory_format

Flips = Sequence[tuple[int, ...]]


def _forward(model: torch.nn.Module, x: torch.Tensor, device: torch.device, precision: str, channels_last: bool,
             flips: Flips = ()) -> torch.Tensor:
    """Logits in float32 for a batch (B, C, *spatial), averaged over the given flip axes sets (TTA)."""
    x = x.to(device).contiguous(memory_format=memory_format(x.dim() - 2, channels_last))
    out: Optional[torch.Tensor] = None
    for axes in [()] + list(flips):
        xi = x.flip(axes) if axes else x
        with autocast(device, precision):
            y = model(xi)
        y = (y.flip(axes) if axes else y).float()
        out = y if out is None else out + y
    assert out is not None
    return out / (1 + len(flips))


def tta_flips(dims: int) -> list[tuple[int, ...]]:
    """All non-empty combinations of in-plane flips (and depth in 3D) on (B, C, *spatial) tensors."""
    axes = list(range(2, 2 + dims))
    return [c for r in range(1, len(axes) + 1) for c in itertools.combinations(axes, r)]


def _pad_to(size: int, multiple: int) -> int:
    return (-size) % multiple


@torch.no_grad()
def predict_slices(model: torch.nn.Module, image: torch.Tensor, device: torch.device, precision: str = "fp32",
                   batch_size: int = 16, channels_last: bool = False, tta: bool = False,
                   multiple: int = DEFAULT_MULTIPLE, context: int = 0) -> torch.Tensor:
    """2D: image (C, S, H, W) -> logits (K, S, H, W), slices in batches (S is the batch axis).

    ``context`` k > 0 (2.5D, :mod:`brats_unet.data.neighbour_slices`): each slice enters with its k neighbours on
    either side as extra channels, stacked one batch at a time (the whole stack would be (2k+1)x the case).
    Slices with no brain in their window (every input value 0 after normalisation, e.g. above the head) all
    give the same logits, so one of them is computed and copied to the others: 10-20 % of a BraTS case's slices.
    """
    pad_h, pad_w = _pad_to(image.shape[2], multiple), _pad_to(image.shape[3], multiple)
    x = torch.nn.functional.pad(image.float().transpose(0, 1), (0, pad_w, 0, pad_h))  # (S, C, H', W')
    window = torch.from_numpy(neighbours(len(x), context))  # (S, 2k+1)
    flips = tta_flips(2) if tta else []
    empty = (x.flatten(1).abs().amax(1) == 0)[window].all(1)
    one_empty = torch.nonzero(empty).flatten()[:1]  # stands for every empty slice
    keep = torch.cat([torch.nonzero(~empty).flatten(), one_empty])
    out = [_forward(model, stack_context(x, window[keep[i : i + batch_size]]), device, precision, channels_last,
                    flips).cpu() for i in range(0, len(keep), batch_size)]
    computed = torch.cat(out)
    logits = computed.new_empty((len(x), *computed.shape[1:]))
    logits[keep] = computed
    if len(one_empty):
        logits[empty] = computed[-1]
    logits = logits[:, :, : image.shape[2], : image.shape[3]]
    return logits.transpose(0, 1).contiguous()


def to_labels(scores: torch.Tensor, mode: str, channel_axis: int = 0, threshold: float = 0.0,
              decode: str = "argmax") -> torch.Tensor:
    """Internal label map (uint8) from logits (``threshold=0``) or probabilities (``threshold=0.5``).

    Regions mode: :func:`brats_unet.brats.from_regions` of ``scores > threshold`` (sigmoid(x) > 0.5 is x > 0 on
    logits). Multiclass (``eval.decode``): ``argmax``, or ``regions``: the class probabilities summed into the
    nested regions (WT = 1 - P(background), TC = P(core) + P(enhancing), ET = P(enhancing)), each kept where it
    is above one half, as a region-trained network decodes. Where argmax says tumour, P(background) <= 1/2, so
    ``regions`` keeps every argmax tumour voxel and adds those whose tumour probability, split over three
    classes, is above one half with no tumour class alone above background: it grows WT, the region every
    recipe under-segments (studies/cv30/errors.md).
    """
    if mode == "regions":
        return from_regions(scores > threshold, axis=channel_axis)
    if decode == "argmax":
        return scores.argmax(channel_axis).to(torch.uint8)
    probs = scores.float().softmax(channel_axis) if threshold == 0 else scores
    p = [probs.select(channel_axis, k) for k in range(4)]
    return from_regions(torch.stack([1 - p[0], p[1] + p[3], p[3]], channel_axis) > 0.5, axis=channel_axis)


def _starts(size: int, patch: int, step: int) -> list[int]:
    """Window starts covering [0, size): every ``step``, the last one flush with the end."""
    if size <= patch:
        return [0]
    starts = list(range(0, size - patch, step)) + [size - patch]
    return sorted(set(starts))


@torch.no_grad()
def predict_sliding(model: torch.nn.Module, image: torch.Tensor, patch: tuple[int, int, int], device: torch.device,
                    precision: str = "fp32", overlap: float = 0.5, channels_last: bool = False, tta: bool = False,
                    multiple: int = DEFAULT_MULTIPLE) -> torch.Tensor:
    """3D: image (C, D, H, W) -> logits (K, D, H, W), the mean of overlapping patch predictions per voxel."""
    shape = image.shape[1:]
    pads = [max(0, p - s) + _pad_to(max(s, p), multiple) for s, p in zip(shape, patch)]
    x = torch.nn.functional.pad(image.float(), [v for p in reversed(pads) for v in (0, p)])
    full = x.shape[1:]
    win = [min(p, f) for p, f in zip(patch, full)]
    steps = [max(1, int(w * (1 - overlap))) for w in win]
    acc: Optional[torch.Tensor] = None
    count = torch.zeros(full)
    flips = tta_flips(3) if tta else []
    for z, y, w in itertools.product(*[_starts(f, p, s) for f, p, s in zip(full, win, steps)]):
        sl = (slice(z, z + win[0]), slice(y, y + win[1]), slice(w, w + win[2]))
        out = _forward(model, x[(slice(None), *sl)][None], device, precision, channels_last, flips)[0].cpu()
        acc = torch.zeros((out.shape[0], *full)) if acc is None else acc
        acc[(slice(None), *sl)] += out
        count[sl] += 1
    assert acc is not None
    logits = acc / count
    return logits[:, : shape[0], : shape[1], : shape[2]].contiguous()


def case_logits(model: torch.nn.Module, image: torch.Tensor, cfg: Config, device: torch.device, precision: str,
                tta: bool = False) -> torch.Tensor:
    """Logits (K, S, H, W) for a preprocessed case image (C, S, H, W), 2D or 3D model as ``cfg`` says."""
    if cfg.model.spatial_dims == 3:
        return predict_sliding(model, image, cfg.data.patch_size, device, precision, cfg.eval.overlap,
                               cfg.train.channels_last, tta, cfg.model.multiple)
    return predict_slices(model, image, device, precision, cfg.eval.batch_size, cfg.train.channels_last, tta,
                          cfg.model.multiple, cfg.data.context)
