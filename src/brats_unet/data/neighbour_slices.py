"""2.5D input (``data.context: k``): each axial slice with its k neighbours on either side as extra channels.

A 2D network sees one slice; tumour boundaries and small enhancing foci are often clearer across slices, and
stacking neighbours is the cheapest way to show them (the first convolution grows by 2k+1 input channels; the
rest of the network is unchanged), a common practice with 2D networks on MRI volumes.

Channel order, the same in training and inference: offsets outer, modalities inner —
``[m0(z-k), m1(z-k), ..., m0(z), m1(z), ..., m0(z+k), ...]``. Beyond the first and last slice the edge slice
is repeated (the volume's slice range, ``data.slices``, bounds the neighbours).
"""

from __future__ import annotations

import numpy as np
import torch


def neighbours(n_slices: int, context: int) -> np.ndarray:
    """(S, 2k+1) slice indices of every slice's window, clamped to [0, S)."""
    offsets = np.arange(-context, context + 1)
    return np.clip(np.arange(n_slices)[:, None] + offsets[None, :], 0, n_slices - 1)


def slice_with_context(volume: np.ndarray, z: int, context: int) -> np.ndarray:
    """One training item from a cached volume (C, S, H, W): slice ``z`` with its neighbours, (C*(2k+1), H, W)."""
    if context == 0:
        return np.array(volume[:, z])
    window = neighbours(volume.shape[1], context)[z]
    stacked = np.asarray(volume[:, window])  # (C, 2k+1, H, W); a memory map reads only these slices
    return np.ascontiguousarray(stacked.transpose(1, 0, 2, 3)).reshape(-1, *stacked.shape[2:])


def stack_context(slices: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Network inputs for some slices: ``slices`` (S, C, H, W) of a whole case, ``index`` (B, 2k+1) rows of
    :func:`neighbours` -> (B, (2k+1)*C, H, W)."""
    picked = slices[index]  # (B, 2k+1, C, H, W)
    return picked.reshape(index.shape[0], -1, *slices.shape[2:])
