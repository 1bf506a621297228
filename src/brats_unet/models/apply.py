"""Apply a model to a whole preprocessed case: 2D slice batches or 3D sliding windows.

Shared by validation (train/) and prediction (infer/); no file I/O here.
"""

from __future__ import annotations

import contextlib
import itertools

import torch


def autocast(device: torch.device, precision: str):
    """Autocast context for a resolved precision ("bf16" | "fp16" | "fp32")."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def memory_format(dims: int, channels_last: bool):
    """channels_last (2D) / channels_last_3d (3D) or the default contiguous format."""
    if not channels_last:
        return torch.contiguous_format
    return torch.channels_last if dims == 2 else torch.channels_last_3d


def _forward(model, x, device, precision, channels_last, flips=()):
    """Logits in float32 for a batch, averaged over the given flip axes sets (test-time augmentation)."""
    x = x.to(device).contiguous(memory_format=memory_format(x.dim() - 2, channels_last))
    out = None
    for axes in [()] + list(flips):
        xi = x.flip(axes) if axes else x
        with autocast(device, precision):
            y = model(xi)
        y = (y.flip(axes) if axes else y).float()
        out = y if out is None else out + y
    return out / (1 + len(flips))


def tta_flips(dims: int) -> list[tuple[int, ...]]:
    """All non-empty combinations of in-plane flips (and depth in 3D) on (B, C, *spatial) tensors."""
    axes = list(range(2, 2 + dims))
    return [c for r in range(1, len(axes) + 1) for c in itertools.combinations(axes, r)]


@torch.no_grad()
def predict_slices(model, image: torch.Tensor, device, precision="fp32", batch_size=32,
                   channels_last=False, tta=False) -> torch.Tensor:
    """2D: image (C, S, H, W) -> logits (K, S, H, W), slices in batches (S is the batch axis)."""
    pad_h, pad_w = (-image.shape[2]) % 16, (-image.shape[3]) % 16
    x = torch.nn.functional.pad(image.float().transpose(0, 1), (0, pad_w, 0, pad_h))  # (S, C, H', W')
    flips = tta_flips(2) if tta else []
    out = [_forward(model, x[i : i + batch_size], device, precision, channels_last, flips).cpu()
           for i in range(0, len(x), batch_size)]
    logits = torch.cat(out)[:, :, : image.shape[2], : image.shape[3]]
    return logits.transpose(0, 1).contiguous()


def to_labels(scores: torch.Tensor, mode: str, channel_axis: int = 0, threshold: float = 0.0) -> torch.Tensor:
    """Internal label map from logits (``threshold=0``) or probabilities (``threshold=0.5``).

    Multiclass: argmax. Regions: decoded as nnU-Net does, edema (2) where WT, core (1) where TC,
    enhancing (3) where ET (sigmoid(x) > 0.5 is x > 0 on logits).
    """
    if mode != "regions":
        return scores.argmax(channel_axis).to(torch.uint8)
    wt, tc, et = (scores > threshold).unbind(channel_axis)
    labels = torch.zeros(wt.shape, dtype=torch.uint8)
    labels[wt], labels[tc], labels[et] = 2, 1, 3
    return labels


def _starts(size: int, patch: int, step: int) -> list[int]:
    if size <= patch:
        return [0]
    starts = list(range(0, size - patch, step)) + [size - patch]
    return sorted(set(starts))


@torch.no_grad()
def predict_sliding(model, image: torch.Tensor, patch: tuple[int, int, int], device, precision="fp32",
                    overlap=0.5, channels_last=False, tta=False, num_classes=None) -> torch.Tensor:
    """3D: image (C, D, H, W) -> logits (K, D, H, W) by averaging overlapping patch predictions."""
    shape = image.shape[1:]
    pads = [max(0, p - s) + (-max(s, p)) % 16 for s, p in zip(shape, patch)]
    x = torch.nn.functional.pad(image.float(), [v for p in reversed(pads) for v in (0, p)])
    full = x.shape[1:]
    win = [min(p, f) for p, f in zip(patch, full)]
    steps = [max(1, int(w * (1 - overlap))) for w in win]
    acc, count = None, torch.zeros(full)
    flips = tta_flips(3) if tta else []
    for z, y, w in itertools.product(*[_starts(f, p, s) for f, p, s in zip(full, win, steps)]):
        sl = (slice(z, z + win[0]), slice(y, y + win[1]), slice(w, w + win[2]))
        out = _forward(model, x[(slice(None), *sl)][None], device, precision, channels_last, flips)[0].cpu()
        acc = torch.zeros((out.shape[0], *full)) if acc is None else acc
        acc[(slice(None), *sl)] += out
        count[sl] += 1
    logits = acc / count
    return logits[:, : shape[0], : shape[1], : shape[2]].contiguous()
