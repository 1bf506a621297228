"""BraTS facts, in one place: modalities, label schemes of each edition, regions, names and colours.

Internal scheme (what models see): 0 background, 1 tumour core / necrosis, 2 edema, 3 enhancing.
Regions (BraTS evaluation): WT = {1, 2, 3}, TC = {1, 3}, ET = {3} in internal codes, which is
WT = {1, 2, 4}, TC = {1, 4}, ET = {4} in BraTS 2018-2021 codes and ET = 3 from BraTS 2023 on.
Every other module derives these facts from here (config choices, argparse choices, losses, metrics,
figures), so an edition is added in one place.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

if TYPE_CHECKING:
    import torch

from .errors import DataError, look_up

Modality = Literal["flair", "t1", "t1ce", "t2"]
MODALITIES: tuple[str, ...] = typing.get_args(Modality)
# File-name tokens of each naming convention -> our modality names ("seg" is the segmentation).
UNDERSCORE_TOKENS = {"flair": "flair", "t1": "t1", "t1ce": "t1ce", "t2": "t2", "seg": "seg"}  # BraTS 2018-2021
DASH_TOKENS = {"t2f": "flair", "t1n": "t1", "t1c": "t1ce", "t2w": "t2", "seg": "seg"}  # BraTS 2023+
MSD_CHANNELS = {"flair": 0, "t1": 1, "t1ce": 2, "t2": 3}  # MSD Task01: FLAIR, T1w, T1gd, T2w in one 4D file
REFERENCE_ORDER = ("flair", "t1ce", "t1", "t2")  # which image a prediction copies its geometry from

SchemeName = Literal["brats2020", "brats2023", "msd"]
SCHEME_NAMES: tuple[str, ...] = typing.get_args(SchemeName)
EDITIONS = ("brats2020", "brats2021", "brats2023", "msd")  # what discovery can detect; 2021 uses 2020 codes

RegionName = Literal["WT", "TC", "ET"]
REGIONS: dict[str, tuple[int, ...]] = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}
REGION_NAMES: tuple[str, ...] = tuple(REGIONS)

CLASS_NAMES = {1: "necrotic/non-enh. core", 2: "edema", 3: "enhancing"}  # internal code -> display name
CLASS_COLOURS = {1: (0.9, 0.1, 0.1), 2: (0.1, 0.8, 0.1), 3: (1.0, 0.85, 0.0)}  # ITK-SNAP-like red/green/yellow
NUM_CLASSES = 4  # background + three tumour classes

AFFINE_TOL = 1e-3  # largest affine difference (mm) still taken as "the same grid"


@dataclass(frozen=True)
class LabelScheme:
    """One edition's label codes. ``codes[i]`` is the edition's code for internal class ``i``."""

    name: str
    codes: tuple[int, int, int, int]
    names: tuple[str, str, str, str]

    def _lut(self) -> np.ndarray:
        lut = np.full(max(self.codes) + 1, 255, dtype=np.uint8)
        for internal, code in enumerate(self.codes):
            lut[code] = internal
        return lut

    def to_internal(self, seg: np.ndarray, source: str = "segmentation") -> np.ndarray:
        """Map edition codes to internal codes (uint8). Raises DataError naming ``source`` on bad labels."""
        seg = np.asarray(seg)
        problem = self.label_problem(seg)
        if problem:
            raise DataError(f"{source}: {problem}")
        return self._lut()[seg.astype(np.int64)]

    def label_problem(self, seg: np.ndarray) -> str | None:
        """Why ``seg`` is no label map of this scheme (non-finite, non-integer or unknown values), or None."""
        values = np.unique(np.asarray(seg))
        if values.dtype.kind == "f":
            if not np.isfinite(values).all():
                n = int((~np.isfinite(np.asarray(seg))).sum())
                return f"{n} non-finite values (NaN or inf) in a label map"
            fractional = values[values != np.round(values)]
            if len(fractional):
                return f"non-integer labels {[float(v) for v in fractional[:5]]}: a label map holds whole numbers"
        bad = sorted(int(v) for v in values if v not in self.codes)
        return f"labels {bad} are not in the {self.name} scheme {sorted(self.codes)}" if bad else None

    def from_internal(self, internal: np.ndarray) -> np.ndarray:
        """Map internal codes back to this edition's codes (uint8)."""
        return np.asarray(self.codes, dtype=np.uint8)[np.asarray(internal, dtype=np.int64)]


BRATS2020 = LabelScheme("brats2020", (0, 1, 2, 4), ("background", "NCR/NET", "ED", "ET"))
BRATS2023 = LabelScheme("brats2023", (0, 1, 2, 3), ("background", "NETC", "SNFH", "ET"))
MSD = LabelScheme("msd", (0, 2, 1, 3), ("background", "non-enhancing tumour", "edema", "enhancing tumour"))

SCHEMES: dict[str, LabelScheme] = {"brats2020": BRATS2020, "brats2021": BRATS2020, "brats2023": BRATS2023, "msd": MSD}


def get_scheme(name: str) -> LabelScheme:
    """Look a scheme up by edition name (brats2020 covers 2018-2021)."""
    return look_up(name, SCHEMES, "label scheme")


@overload
def to_regions(labels: np.ndarray, axis: int = 0) -> np.ndarray: ...
@overload
def to_regions(labels: torch.Tensor, axis: int = 0) -> torch.Tensor: ...
def to_regions(labels, axis=0):
    """Internal label map (...) -> stacked boolean WT/TC/ET masks, new axis at ``axis`` (numpy or torch)."""
    masks = [sum((labels == c) for c in codes) > 0 for codes in REGIONS.values()]
    if isinstance(labels, np.ndarray):
        return np.stack(masks, axis=axis)
    import torch

    return torch.stack(masks, dim=axis)


@overload
def from_regions(masks: np.ndarray, axis: int = 0) -> np.ndarray: ...
@overload
def from_regions(masks: torch.Tensor, axis: int = 0) -> torch.Tensor: ...
def from_regions(masks, axis=0):
    """Boolean WT/TC/ET masks stacked on ``axis`` -> internal labels (uint8), decoded as nnU-Net does:
    edema (2) where WT, core (1) where TC, enhancing (3) where ET (numpy or torch)."""
    if isinstance(masks, np.ndarray):
        wt, tc, et = np.moveaxis(masks, axis, 0)
        out = np.zeros(wt.shape, np.uint8)
    else:
        import torch

        wt, tc, et = masks.unbind(axis)
        out = torch.zeros(wt.shape, dtype=torch.uint8, device=wt.device)
    out[wt], out[tc], out[et] = 2, 1, 3
    return out


def region_masks(internal: np.ndarray) -> dict[str, np.ndarray]:
    """{region: boolean mask} from an internal label map of any shape."""
    return {name: np.isin(internal, codes) for name, codes in REGIONS.items()}
