"""Turn one case into model-space arrays and back.

Every mode is "take an in-plane box, then resize it to a target size" on the axial slices
``data.slices`` (half-open, default 5..149):

* ``resize``: box = whole image, target = ``size`` x ``size`` (the paper: 240 -> 128).
* ``native``: box = whole image padded to a multiple of ``2**model.depth`` (``DEFAULT_MULTIPLE``, 16), no resizing.
* ``crop``: box = brain bounding box padded to that multiple, no resizing.

Images are resized bilinearly; labels with nearest neighbour (never interpolated). Predictions are
mapped back by resizing *probabilities* and placing them into the original grid (:func:`to_original`).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..brats import CLASSIC_GRID, get_scheme
from ..config import DEFAULT_MULTIPLE, DataConfig
from ..errors import DataError
from .discovery import Case
from .signatures import STRIDE, profile
from .volumes import background_value, read_brain, read_modalities, read_seg, spacing

Box = tuple[int, int, int, int]  # in-plane (x0, x1, y0, y1), may reach outside the image (zero padding)


@dataclass(frozen=True)
class CaseMeta:
    """Where a case's model-space arrays sit in its original grid (stored as the cache's ``meta.json``)."""

    case_id: str
    edition: str
    shape: tuple[int, int, int]  # original (X, Y, Z)
    spacing: tuple[float, float, float]  # mm
    slices: tuple[int, int]  # half-open axial range kept
    box: Box
    size: tuple[int, int]  # model-space in-plane size
    tumour_slices: tuple[int, ...]  # model-space slice indices holding tumour (for oversampling)
    # each modality's intensity profile before normalisation (data/signatures.py); empty in caches built before
    profiles: dict = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CaseMeta:
        """Read :meth:`to_json` output."""
        return cls(raw["case_id"], raw["edition"], tuple(raw["shape"]), tuple(raw["spacing"]),
                   tuple(raw["slices"]), tuple(raw["box"]), tuple(raw["size"]), tuple(raw["tumour_slices"]),
                   dict(raw.get("profiles") or {}))


@dataclass
class Prepared:
    """A case in model space: image (C, S, H, W) float16, seg (S, H, W) uint8 internal codes or None."""

    image: np.ndarray
    seg: Optional[np.ndarray]
    meta: CaseMeta


def normalise(vol: np.ndarray, method: str, source: str = "volume", brain: np.ndarray | None = None) -> np.ndarray:
    """Per-volume intensity normalisation of one modality (X, Y, Z).

    The brain is ``brain`` (a bool mask the user gave) or every voxel unlike the background
    (:func:`background_value`), so a volume another pipeline already normalised (float, background not 0) gets
    the same brain mask as its raw original; that case is reported on stderr, and so is a derived brain that
    fills most of the volume (not skull-stripped, or a background that is not one value: give a mask).
    ``zscore``: mean 0, sd 1 over brain voxels, 0 elsewhere. Statistics are taken in float64 so int16-clipped
    volumes (values at 32767) cannot overflow. ``max``: (X - background) / its max over the brain, 0 elsewhere.
    """
    background = background_value(vol)
    mask = vol != background if brain is None else brain
    if not mask.any():
        value = "zero" if background == 0 else f"{background:g}"
        raise DataError(f"{source}: all voxels are {value}, cannot normalise")
    if brain is None:
        _warn_unlike_brats(mask, background, source)
    if method == "max":
        shifted = np.where(mask, vol - background, 0)
        return (shifted / float(np.abs(shifted).max() or 1.0)).astype(np.float32)
    voxels = vol[mask].astype(np.float64)
    std = voxels.std()
    out = np.zeros_like(vol, dtype=np.float32)
    out[mask] = (voxels - voxels.mean()) / (std if std > 0 else 1.0)
    return out


# a skull-stripped BraTS brain fills 10-25 % of its 240 x 240 x 155 grid; a derived "brain" above this share
# is most likely head, neck and air (not skull-stripped) or a background that is not one constant value
BRAIN_SHARE_MAX = 0.6


def _warn_unlike_brats(mask: np.ndarray, background: float, source: str) -> None:
    """Say on stderr when a derived brain mask does not look like a skull-stripped BraTS volume's."""
    if background != 0:
        print(f"warning: {source}: background (the value filling the border) is {background:.4g}, not 0 as in "
              f"BraTS data: the image looks normalised by another pipeline; the brain is taken as the voxels "
              f"unlike it", file=sys.stderr)
    share = float(mask.mean())
    if share > BRAIN_SHARE_MAX:
        print(f"warning: {source}: {share:.0%} of the volume is taken as brain (a skull-stripped BraTS brain fills "
              f"10-25 %): the image is not skull-stripped or its background is not one constant value; the model "
              f"was trained on skull-stripped brains: give a brain mask (predict --brain-mask FILE)", file=sys.stderr)


def _grow(lo: int, hi: int, limit: int, multiple: int) -> tuple[int, int]:
    """Grow [lo, hi) symmetrically to a multiple, shifting inside [0, limit) where possible."""
    target = -(-(hi - lo) // multiple) * multiple
    lo -= (target - (hi - lo)) // 2
    lo = max(0, min(lo, limit - target)) if target <= limit else -((target - limit) // 2)
    return lo, lo + target


def plane_box(images: np.ndarray, mode: str, multiple: int = DEFAULT_MULTIPLE) -> Box:
    """In-plane box (x0, x1, y0, y1) for a (C, X, Y, Z) stack, sides a multiple of ``multiple``
    (``2**model.depth``); may extend beyond the image (zero pad)."""
    _, nx, ny, _ = images.shape
    if mode == "resize":
        return 0, nx, 0, ny
    if mode == "native":
        return (*_grow(0, nx, nx, multiple), *_grow(0, ny, ny, multiple))
    brain = np.any(images != 0, axis=(0, 3))
    xs, ys = np.nonzero(brain.any(axis=1))[0], np.nonzero(brain.any(axis=0))[0]
    return (*_grow(int(xs[0]), int(xs[-1]) + 1, nx, multiple), *_grow(int(ys[0]), int(ys[-1]) + 1, ny, multiple))


def crop_plane(arr: np.ndarray, box: Box) -> np.ndarray:
    """Crop the last two axes to ``box`` (x0, x1, y0, y1), zero-padding outside the array."""
    x0, x1, y0, y1 = box
    nx, ny = arr.shape[-2:]
    pad = [(0, 0)] * (arr.ndim - 2) + [(max(0, -x0), max(0, x1 - nx)), (max(0, -y0), max(0, y1 - ny))]
    arr = np.pad(arr, pad) if any(p != (0, 0) for p in pad) else arr
    ox, oy = max(0, -x0), max(0, -y0)
    return arr[..., x0 + ox : x1 + ox, y0 + oy : y1 + oy]


def resize_plane(x: torch.Tensor, size: tuple[int, int], labels: bool = False) -> torch.Tensor:
    """Resize the last two axes of (N, C, H, W); bilinear for images, nearest-exact for labels."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if labels:
        return F.interpolate(x.float(), size=size, mode="nearest-exact").to(x.dtype)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def target_size(box: Box, cfg: DataConfig) -> tuple[int, int]:
    """Model-space in-plane size for a box."""
    return (cfg.size, cfg.size) if cfg.mode == "resize" else (box[1] - box[0], box[3] - box[2])


def slice_range(depth: int, cfg: DataConfig, grid: Optional[tuple[int, ...]] = None) -> tuple[int, int]:
    """The configured axial range clipped to the volume depth. The default range (the case study's 5..149)
    only means something on the classic 240 x 240 x 155 grid: on any other ``grid`` it becomes the whole depth."""
    if grid is not None and tuple(grid) != CLASSIC_GRID and cfg.slices == DataConfig.slices:
        return 0, depth
    s0, s1 = cfg.slices[0], min(cfg.slices[1], depth)
    if s0 >= s1:
        raise DataError(f"data.slices {list(cfg.slices)} selects nothing in a volume of {depth} slices")
    return s0, s1


def preprocess_case(case: Case, cfg: DataConfig, with_seg: bool = True, multiple: int = DEFAULT_MULTIPLE) -> Prepared:
    """Read, normalise, slice, crop and resize one case into model space (box sides a multiple of ``multiple``)."""
    raw = read_modalities(case, cfg.modalities, cfg.nonfinite)  # (C, X, Y, Z)
    brain = read_brain(case, cfg.modalities[0])
    profiles = {}
    for c, name in enumerate(cfg.modalities):
        found = profile(raw[c], background_value(raw[c]), STRIDE)  # what predict checks explicit files against
        if found is not None:
            profiles[name] = [round(float(v), 4) for v in found]
        raw[c] = normalise(raw[c], cfg.normalize, str(case.images[name].path), brain)
    s0, s1 = slice_range(raw.shape[3], cfg, raw.shape[1:])
    box = plane_box(raw, cfg.mode, multiple)
    size = target_size(box, cfg)
    img = crop_plane(np.moveaxis(raw[..., s0:s1], 3, 1), box)  # (C, S, h, w)
    image = resize_plane(torch.from_numpy(np.ascontiguousarray(img)).transpose(0, 1), size).transpose(0, 1)
    seg = _prepare_seg(case, cfg, (s0, s1), box, size) if with_seg else None
    meta = replace(_meta(case, cfg, raw.shape[1:], (s0, s1), box, size, seg), profiles=profiles)
    return Prepared(image.numpy().astype(np.float16), seg, meta)


def _prepare_seg(case: Case, cfg: DataConfig, rng: tuple[int, int], box: Box, size: tuple[int, int]
                 ) -> np.ndarray | None:
    scheme = None if cfg.labels == "auto" else get_scheme(cfg.labels)
    seg = read_seg(case, scheme, like=cfg.modalities[0])  # on the images' grid, or DataError
    if seg is None:
        return None
    seg = crop_plane(np.moveaxis(seg[..., rng[0] : rng[1]], 2, 0), box)  # (S, h, w)
    return resize_plane(torch.from_numpy(np.ascontiguousarray(seg))[:, None], size, labels=True)[:, 0].numpy()


def _meta(case: Case, cfg: DataConfig, shape: tuple[int, ...], rng: tuple[int, int], box: Box,
          size: tuple[int, int], seg: np.ndarray | None) -> CaseMeta:
    tumour = () if seg is None else tuple(int(i) for i in np.nonzero(seg.reshape(len(seg), -1).any(1))[0])
    return CaseMeta(case.case_id, case.edition, (int(shape[0]), int(shape[1]), int(shape[2])),
                    spacing(case.images[cfg.modalities[0]]), (int(rng[0]), int(rng[1])),
                    (int(box[0]), int(box[1]), int(box[2]), int(box[3])), (int(size[0]), int(size[1])), tumour)


def to_original(probs: torch.Tensor, meta: CaseMeta, mode: str = "multiclass") -> torch.Tensor:
    """Map model-space probabilities (K, S, H, W) back to the original grid (K, X, Y, Z).

    Slices outside the model's range and voxels outside the box are certain background: class probabilities
    (1, 0, 0, 0) in ``multiclass`` mode, region probabilities 0 in ``regions`` mode, so every decoding (argmax,
    summed regions, thresholds) and the uncertainty maps read them as "no tumour".
    """
    x0, x1, y0, y1 = meta.box
    nx, ny, nz = meta.shape
    s0, s1 = meta.slices
    up = resize_plane(probs.transpose(0, 1).float(), (x1 - x0, y1 - y0)).transpose(0, 1)  # (K, S, bx, by)
    out = torch.zeros((probs.shape[0], nz, nx, ny), dtype=up.dtype)
    if mode != "regions":
        out[0] = 1.0
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(nx, x1), min(ny, y1)
    out[:, s0:s1, cx0:cx1, cy0:cy1] = up[:, :, cx0 - x0 : cx1 - x0, cy0 - y0 : cy1 - y0]
    return out.permute(0, 2, 3, 1)
