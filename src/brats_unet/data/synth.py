"""Synthetic BraTS2020-layout phantoms for unit tests and the demo's fallback (never for quality claims).

Each case: an ellipsoidal "brain" with a darker ventricle system, four modality contrasts, and a tumour
made of nested ellipsoids: necrotic core (label 1) inside an enhancing rim (4) inside edema (2).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from ..atomic_files import atomic_write
from ..errors import ConfigError

# Intensity of (brain, ventricles, edema, enhancing, necrosis) per modality, loosely like real MRI.
CONTRAST = {
    "flair": (400, 150, 900, 700, 500),
    "t1": (500, 200, 350, 400, 250),
    "t1ce": (500, 200, 380, 1100, 250),
    "t2": (450, 900, 800, 650, 950),
}
AFFINE = np.array([[-1.0, 0, 0, 0], [0, -1.0, 0, 239.0], [0, 0, 1.0, 0], [0, 0, 0, 1]])


def _ellipsoid(grid, centre, radii) -> np.ndarray:
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0


def phantom(shape: tuple[int, int, int], rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One synthetic case: ({modality: int16 volume}, seg uint8 with BraTS 2018-2020 codes)."""
    grid = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing="ij")
    mid = np.array(shape) / 2
    brain = _ellipsoid(grid, mid, np.array(shape) * [0.38, 0.44, 0.4])
    ventricles = _ellipsoid(grid, mid, np.array(shape) * [0.06, 0.12, 0.1])
    centre = mid + rng.uniform(-0.15, 0.15, 3) * np.array(shape)
    radius = np.array(shape) * rng.uniform(0.07, 0.12)
    edema = _ellipsoid(grid, centre, radius * 1.8) & brain
    enh = _ellipsoid(grid, centre, radius) & brain
    nec = _ellipsoid(grid, centre, radius * 0.55) & brain
    seg = np.zeros(shape, np.uint8)
    seg[edema], seg[enh], seg[nec] = 2, 4, 1
    images = {}
    for name, (b, v, e, en, n) in CONTRAST.items():
        vol = np.zeros(shape, np.float32)
        vol[brain], vol[ventricles & brain] = b, v
        vol[seg == 2], vol[seg == 4], vol[seg == 1] = e, en, n
        vol[brain] += rng.normal(0, 30, int(brain.sum()))
        images[name] = np.clip(vol, 0, 32767).astype(np.int16)
    return images, seg


def _save(array: np.ndarray, path: Path) -> None:
    img = nib.Nifti1Image(array, AFFINE)
    img.header.set_zooms((1.0, 1.0, 1.0))
    atomic_write(path, lambda tmp: nib.save(img, str(tmp)))


def write_synthetic(out_dir: str | Path, cases: int = 4, seed: int = 0,
                    shape: tuple[int, int, int] = (240, 240, 155)) -> list[Path]:
    """Write ``cases`` phantoms as ``<out>/Synth_NNN/Synth_NNN_{flair,t1,t1ce,t2,seg}.nii.gz``.

    Raises:
        ConfigError: fewer than one case, or a shape under 8 voxels on an axis (no room for a tumour).
    """
    if cases < 1:
        raise ConfigError(f"--cases {cases}: write at least one case")
    if len(shape) != 3 or min(shape) < 8:
        raise ConfigError(f"--shape {list(shape)}: need three sizes of at least 8 voxels, e.g. 64 64 32")
    out, rng, folders = Path(out_dir), np.random.default_rng(seed), []
    for i in range(cases):
        cid = f"Synth_{i + 1:03d}"
        images, seg = phantom(shape, rng)
        folder = out / cid
        for name, vol in {**images, "seg": seg}.items():
            _save(vol, folder / f"{cid}_{name}.nii.gz")
        folders.append(folder)
    return folders
