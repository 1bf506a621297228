"""PyTorch datasets over the slice cache: 2D slices and 3D patches, with tumour oversampling."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import DEFAULT_MULTIPLE
from .cache import SliceCache
from .neighbour_slices import slice_with_context


class SliceDataset(Dataset):
    """Axial slices of the cached cases.

    Items are ``(image, label)``: image (C, H, W) float16 as cached (2.5D: (C*(2k+1), H, W), its window of
    ``context`` k slices either side, :mod:`.context`; with ``window``, a fixed (h, w) crop of both, placed
    by (seed, epoch, index) so runs are reproducible), label (H, W) int64 internal
    codes. :func:`collate_pad` turns a batch into float32: converting once per batch rather than per
    item is what keeps 4-modality 240x240 slices above 2,000 slices/s (benchmarks/RESULTS.md).
    """

    def __init__(self, cache: SliceCache, case_ids: list[str], context: int = 0,
                 window: Optional[tuple[int, int]] = None, seed: int = 0):
        self.cache, self.context, self.window, self.seed, self.epoch = cache, context, window, seed, 0
        self.case_ids = list(case_ids)
        self.images = [cache.image(c) for c in self.case_ids]
        self.segs = [cache.seg(c) for c in self.case_ids]
        counts = [len(s) for s in self.segs]
        self.case_of = np.repeat(np.arange(len(counts)), counts)
        self.slice_of = np.concatenate([np.arange(n) for n in counts]) if counts else np.zeros(0, int)
        offsets = np.cumsum([0] + counts[:-1])
        self.tumour_indices = np.concatenate(
            [off + np.asarray(cache.meta(c).tumour_slices, dtype=int) for off, c in zip(offsets, self.case_ids)]
        ) if counts else np.zeros(0, int)

    def __len__(self) -> int:
        return len(self.case_of)

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of an epoch (where ``window`` crops are placed)."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        c, z = self.case_of[index], self.slice_of[index]
        image = slice_with_context(self.images[c], z, self.context)
        label = np.asarray(self.segs[c][z], dtype=np.int64)
        if self.window is not None:
            start = window_start(label, np.random.default_rng((self.seed, self.epoch, index)), self.window)
            image, label = _window(image, start, self.window, lead=1), _window(label, start, self.window, lead=0)
        return torch.from_numpy(np.ascontiguousarray(image)), torch.from_numpy(np.ascontiguousarray(label))


def window_start(label: np.ndarray, rng: np.random.Generator, window: tuple[int, int]) -> list[int]:
    """Top-left corner of a 2D ``window`` on a slice's labels (H, W): around a random tumour pixel (jittered by up
    to a quarter window, so the tumour is not always in the middle) when the slice has tumour, else anywhere."""
    tumour = np.argwhere(label > 0)
    if len(tumour):
        centre = tumour[rng.integers(len(tumour))] + [int(rng.integers(-w // 4, w // 4 + 1)) for w in window]
    else:
        centre = [int(rng.integers(s)) for s in label.shape]
    return _start_around(centre, window, label.shape)


def _start_around(centre, size: tuple[int, ...], shape: tuple[int, ...]) -> list[int]:
    """Start of a ``size`` window centred on ``centre``, moved inside ``shape`` where it fits (a smaller array
    is zero-padded by :func:`_window`)."""
    return [int(np.clip(ct - p // 2, min(0, s - p), max(0, s - p))) for ct, p, s in zip(centre, size, shape)]


def sample_indices(n_items: int, n_samples: int, tumour: np.ndarray, oversample: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Indices for one epoch: a fraction ``oversample`` drawn from ``tumour``, the rest uniformly.

    With ``oversample == 0`` this is a plain shuffle (repeated if ``n_samples > n_items``).
    """
    if oversample <= 0 or len(tumour) == 0:
        reps = -(-n_samples // n_items)
        return np.concatenate([rng.permutation(n_items) for _ in range(reps)])[:n_samples]
    forced = rng.random(n_samples) < oversample
    out = rng.integers(0, n_items, n_samples)
    out[forced] = tumour[rng.integers(0, len(tumour), int(forced.sum()))]
    return out


class PatchDataset(Dataset):
    """Random 3D patches (C, D, H, W) from cached volumes; D runs along the axial slices.

    A patch is centred on a random tumour voxel with probability ``tumour_prob`` (tumour-biased
    sampling as in nnU-Net), else anywhere. Volumes smaller than the patch are zero-padded.
    Item ``i`` of epoch ``e`` is a pure function of (seed, e, i), so runs are reproducible.
    """

    def __init__(self, cache: SliceCache, case_ids: list[str], patch_size: tuple[int, int, int],
                 length: int, tumour_prob: float = 0.33, seed: int = 0):
        self.cache, self.case_ids = cache, list(case_ids)
        self.images = [cache.image(c) for c in self.case_ids]
        self.segs = [cache.seg(c) for c in self.case_ids]
        self.patch = tuple(patch_size)
        self.length, self.tumour_prob, self.seed, self.epoch = length, tumour_prob, seed, 0
        self.fg = [self._foreground(s) for s in self.segs]

    @staticmethod
    def _foreground(seg: np.ndarray, limit: int = 20000) -> np.ndarray:
        coords = np.argwhere(np.asarray(seg) > 0)
        step = max(1, len(coords) // limit)
        return coords[::step]

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of an epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        c = int(rng.integers(len(self.case_ids)))
        shape = self.segs[c].shape
        if len(self.fg[c]) and rng.random() < self.tumour_prob:
            centre = self.fg[c][rng.integers(len(self.fg[c]))]
        else:
            centre = [int(rng.integers(s)) for s in shape]
        start = _start_around(centre, self.patch, shape)
        image = _window(self.images[c], start, self.patch, lead=1)
        label = _window(self.segs[c], start, self.patch, lead=0)
        return torch.from_numpy(np.ascontiguousarray(image)), torch.from_numpy(label.astype(np.int64))


def _window(arr: np.ndarray, start: list[int], size: tuple[int, ...], lead: int) -> np.ndarray:
    """Crop ``size`` at ``start`` over the last three axes, zero-padding where it leaves the array."""
    spatial = arr.shape[lead:]
    lo = [max(0, s) for s in start]
    hi = [min(n, s + p) for s, p, n in zip(start, size, spatial)]
    out = np.asarray(arr[(slice(None),) * lead + tuple(slice(a, b) for a, b in zip(lo, hi))])
    pad = [(0, 0)] * lead + [(a - s, s + p - b) for s, a, b, p in zip(start, lo, hi, size)]
    return np.pad(out, pad) if any(p != (0, 0) for p in pad) else out


def collate_pad(batch: list[tuple[torch.Tensor, torch.Tensor]],
                multiple: int = DEFAULT_MULTIPLE) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack items into float32 images and int64 labels, zero-padding (background) to the largest size.

    Padding is needed for ``crop`` mode, whose slices differ in size between cases.
    """
    dims = batch[0][1].dim()
    size = [max(item[1].shape[d] for item in batch) for d in range(dims)]
    size = [-(-s // multiple) * multiple for s in size]
    if all(list(label.shape) == size for _, label in batch):  # common case: nothing to pad
        return torch.stack([b[0] for b in batch]).float(), torch.stack([b[1] for b in batch])
    images, labels = [], []
    for image, label in batch:
        pad = [p for d in reversed(range(dims)) for p in (0, size[d] - label.shape[d])]
        images.append(torch.nn.functional.pad(image, pad))
        labels.append(torch.nn.functional.pad(label, pad))
    return torch.stack(images).float(), torch.stack(labels)
