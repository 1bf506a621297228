"""Surface distances and the 95th-percentile Hausdorff distance (HD95), in millimetres.

Two surface definitions, each as the evaluator it reproduces extracts it:

* voxel surfaces (``pooled``, ``max``): the mask voxels that a face-connected erosion removes, as medpy,
  MONAI and panoptica (the BraTS 2025 evaluator) take them;
* surface elements (``weighted``): the marching-cubes surface inside every 2x2x2 neighbourhood of voxels,
  each weighted by its area, as DeepMind's ``surface-distance`` package (the BraTS 2023 organisers' code)
  computes its "robust Hausdorff distance" (Nikolov et al., 2018, arXiv:1809.04430).

Distances come from scipy's Euclidean distance transform with the voxel spacing. Masks are first cropped
to their joint bounding box plus one voxel: exact, and what keeps a 240x240x155 case fast.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure

from .surfels import NORMALS_X8


def crop_joint(a: np.ndarray, b: np.ndarray, margin: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Crop two masks to the bounding box of their union, plus ``margin`` voxels where the image allows
    (two empty masks: one voxel of each)."""
    idx = np.nonzero(a | b)
    if not len(idx[0]):
        return a[(slice(0, 1),) * a.ndim], b[(slice(0, 1),) * b.ndim]
    sl = tuple(slice(max(0, int(i.min()) - margin), int(i.max()) + margin + 1) for i in idx)
    return a[sl], b[sl]


def surface(mask: np.ndarray) -> np.ndarray:
    """Boundary voxels: the mask minus its face-connected erosion (image edges count as outside)."""
    structure = generate_binary_structure(mask.ndim, 1)
    return mask & ~binary_erosion(mask, structure=structure, border_value=0)


def surface_distances(a: np.ndarray, b: np.ndarray, spacing=None) -> tuple[np.ndarray, np.ndarray]:
    """Distances from each surface voxel of ``a`` to the surface of ``b``, and from ``b`` to ``a``.

    Both masks must be non-empty.
    """
    a, b = crop_joint(np.asarray(a, bool), np.asarray(b, bool))
    sa, sb = surface(a), surface(b)
    spacing = None if spacing is None else [float(s) for s in spacing]
    dt_b = distance_transform_edt(~sb, sampling=spacing)
    dt_a = distance_transform_edt(~sa, sampling=spacing)
    return dt_b[sa], dt_a[sb]


def neighbour_codes(mask: np.ndarray) -> np.ndarray:
    """(X+1, Y+1, Z+1) codes of every 2x2x2 neighbourhood of a 3D mask zero-padded by one voxel.

    Bit 128 is the neighbourhood's first voxel, bit 1 its last (C order); 0 and 255 are no surface.
    """
    m = np.pad(np.asarray(mask, bool), 1).astype(np.uint8)
    codes = np.zeros(tuple(s - 1 for s in m.shape), np.uint8)
    bit = 128
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                codes |= m[i:i + codes.shape[0], j:j + codes.shape[1], k:k + codes.shape[2]] * np.uint8(bit)
                bit >>= 1
    return codes


@lru_cache(maxsize=16)
def surfel_areas(spacing: tuple[float, float, float]) -> np.ndarray:
    """(256,) area in mm^2 of the surface element of each neighbourhood code for a voxel spacing."""
    sx, sy, sz = spacing
    scale = np.array([sy * sz, sx * sz, sx * sy]) / 8.0
    return np.array([float(np.linalg.norm(np.reshape(n, (-1, 3)) * scale, axis=1).sum()) if n else 0.0
                     for n in NORMALS_X8])


def weighted_surface_distances(a: np.ndarray, b: np.ndarray, spacing=None):
    """(distances a->b, areas of a's elements, distances b->a, areas of b's elements) for 3D masks.

    A mask without surface gives empty arrays for its own elements and infinite distances to it.
    """
    a, b = crop_joint(np.asarray(a, bool), np.asarray(b, bool))
    spacing = (1.0, 1.0, 1.0) if spacing is None else tuple(float(s) for s in spacing)
    areas = surfel_areas(spacing)
    codes_a, codes_b = neighbour_codes(a), neighbour_codes(b)
    border_a = (codes_a != 0) & (codes_a != 255)
    border_b = (codes_b != 0) & (codes_b != 255)
    to_a = distance_transform_edt(~border_a, sampling=spacing) if border_a.any() else np.full(codes_a.shape, np.inf)
    to_b = distance_transform_edt(~border_b, sampling=spacing) if border_b.any() else np.full(codes_b.shape, np.inf)
    return to_b[border_a], areas[codes_a[border_a]], to_a[border_b], areas[codes_b[border_b]]


def weighted_percentile(distances: np.ndarray, areas: np.ndarray, percent: float = 95) -> float:
    """The smallest distance whose elements, with all nearer ones, hold ``percent`` % of the area."""
    if not len(distances):
        return math.inf
    order = np.argsort(distances, kind="stable")
    cumulative = np.cumsum(areas[order]) / np.sum(areas)
    idx = int(np.searchsorted(cumulative, percent / 100.0))
    return float(distances[order][min(idx, len(distances) - 1)])


def hd95(pred: np.ndarray, ref: np.ndarray, spacing=None, method: str = "pooled") -> float:
    """95th-percentile Hausdorff distance between two masks.

    ``pooled`` (default): the 95th percentile of both directed distance sets together, as medpy's
    ``hd95`` (nnU-Net v1 for BraTS) and panoptica (the BraTS 2025 evaluator). ``max``: the larger of
    the two directed 95th percentiles, as ``monai.metrics.compute_hausdorff_distance(percentile=95)``.
    ``weighted``: the larger of the two area-weighted directed 95th percentiles of surface elements,
    as ``surface_distance.compute_robust_hausdorff`` (the BraTS 2023 organisers' code); inf where a
    mask is empty. ``pooled`` and ``max`` need two non-empty masks.
    """
    if method == "weighted":
        d_ab, w_a, d_ba, w_b = weighted_surface_distances(pred, ref, spacing)
        return max(weighted_percentile(d_ab, w_a), weighted_percentile(d_ba, w_b))
    d_ab, d_ba = surface_distances(pred, ref, spacing)
    if method == "max":
        return float(max(np.percentile(d_ab, 95), np.percentile(d_ba, 95)))
    return float(np.percentile(np.concatenate([d_ab, d_ba]), 95))
