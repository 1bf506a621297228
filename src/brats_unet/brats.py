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

SchemeName = Literal["brats2020", "brats2023", "brats2024-gli", "brats2024-ped", "msd"]
SCHEME_NAMES: tuple[str, ...] = typing.get_args(SchemeName)
EDITIONS = ("brats2020", "brats2021", "brats2023", "msd")  # what discovery can detect; 2021 uses 2020 codes

RegionName = Literal["WT", "TC", "ET"]
REGIONS: dict[str, tuple[int, ...]] = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}
REGION_NAMES: tuple[str, ...] = tuple(REGIONS)

CORE, EDEMA, ENHANCING = 1, 2, 3  # internal codes (post-processing relabels small ET as core)
CLASS_NAMES = {1: "necrotic/non-enh. core", 2: "edema", 3: "enhancing"}  # internal code -> display name
CLASS_COLOURS = {1: (0.9, 0.1, 0.1), 2: (0.1, 0.8, 0.1), 3: (1.0, 0.85, 0.0)}  # ITK-SNAP-like red/green/yellow
NUM_CLASSES = 4  # background + three tumour classes

AFFINE_TOL = 1e-3  # largest affine difference (mm) still taken as "the same grid"
CLASSIC_GRID = (240, 240, 155)  # BraTS 2018-2023 (SRI-24 atlas, 1 mm); BraTS 2024 MNI data is 182 x 218 x 182


# Whole-region ("legacy") scoring conventions of the official evaluators (metrics.regions applies them):
# `both_empty`: (Dice, HD95) when prediction and reference are both empty; `hd95`: surface definition
# (metrics.surface.hd95); `penalty`: HD95 where one mask is empty (None: the image diagonal in mm);
# `no_overlap_penalty`: the penalty also where both masks exist but do not overlap (panoptica's edge case).
Convention = Literal["brats2020", "brats2023", "brats2025"]
HdMethod = Literal["auto", "pooled", "max", "weighted"]
HD95_PENALTY_2023 = 374.0  # the 2023-2024 code: HD95 where a surface is missing, and of a false-positive lesion
HD95_PENALTY_2025 = 373.0  # brats-evaluation: HD95 where panoptica returns inf


@dataclass(frozen=True)
class ConventionRules:
    """How one official evaluator scores a region (see ``CONVENTIONS``)."""

    both_empty: tuple[float, float]
    hd95: str
    penalty: float | None
    no_overlap_penalty: bool = False


CONVENTIONS: dict[str, ConventionRules] = {
    # BraTS 2017-2021 (CaPTk / nnU-Net v1 with medpy): both empty 1 / 0, penalty the grid's diagonal.
    "brats2020": ConventionRules((1.0, 0.0), "pooled", None),
    # BraTS 2023-2024 organisers' code (surface-distance's robust Hausdorff, inf -> 374).
    "brats2023": ConventionRules((1.0, 0.0), "weighted", HD95_PENALTY_2023),
    # BraTS 2025 `brats-evaluation` (panoptica): both empty NaN, no overlap -> inf -> 373.
    "brats2025": ConventionRules((float("nan"), float("nan")), "pooled", HD95_PENALTY_2025,
                                   no_overlap_penalty=True),
}

# Lesion-wise parameters of the 2023-2024 organisers' code per sub-challenge: (dilation in voxels,
# volume threshold in mm^3; lesions at or below it are not scored).
SubChallenge = Literal["GLI", "SSA", "MEN", "PED", "MET"]
SUBCHALLENGES: dict[str, tuple[int, float]] = {"GLI": (3, 50.0), "SSA": (3, 50.0), "MEN": (1, 50.0),
                                                "PED": (3, 50.0), "MET": (1, 2.0)}


@dataclass(frozen=True)
class LabelScheme:
    """One edition's label codes. ``codes[i]`` is the edition's code for internal class ``i``; ``extra``
    pairs (code, internal class) for labels the models do not predict (read as that class, never written);
    ``extra_regions`` are scored beside WT/TC/ET."""

    name: str
    codes: tuple[int, int, int, int]
    names: tuple[str, str, str, str]
    extra: tuple[tuple[int, int], ...] = ()
    extra_regions: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def all_codes(self) -> tuple[int, ...]:
        """Every label value this edition's segmentations may hold."""
        return tuple(sorted(set(self.codes) | {c for c, _ in self.extra}))

    def _lut(self) -> np.ndarray:
        lut = np.full(max(self.all_codes) + 1, 255, dtype=np.uint8)
        for internal, code in enumerate(self.codes):
            lut[code] = internal
        for code, internal in self.extra:
            lut[code] = internal
        return lut

    def region_codes(self) -> dict[str, tuple[int, ...]]:
        """{region: the edition's label codes in it}: WT/TC/ET, then ``extra_regions``."""
        out = {name: tuple(sorted({self.codes[i] for i in internal} | {c for c, i in self.extra if i in internal}))
               for name, internal in REGIONS.items()}
        return out | dict(self.extra_regions)

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
        bad = sorted(int(v) for v in values if v not in self.all_codes)
        if not bad:
            return None
        hint = "; BraTS 2024-2025 GLI/PED data use 4: pass --labels brats2024-gli or brats2024-ped" \
            if self.name == "brats2023" and 4 in bad else ""
        return f"labels {bad} are not in the {self.name} scheme {list(self.all_codes)}{hint}"

    def from_internal(self, internal: np.ndarray) -> np.ndarray:
        """Map internal codes back to this edition's codes (uint8)."""
        return np.asarray(self.codes, dtype=np.uint8)[np.asarray(internal, dtype=np.int64)]


BRATS2020 = LabelScheme("brats2020", (0, 1, 2, 4), ("background", "NCR/NET", "ED", "ET"))
BRATS2023 = LabelScheme("brats2023", (0, 1, 2, 3), ("background", "NETC", "SNFH", "ET"))
MSD = LabelScheme("msd", (0, 2, 1, 3), ("background", "non-enhancing tumour", "edema", "enhancing tumour"))
# BraTS 2024-2025 GLI (post-treatment gliomas): 4 = resection cavity, outside WT/TC/ET, scored as its own region.
# MEN, MET and SSA 2024-2025 keep the 2023 codes.
BRATS2024_GLI = LabelScheme("brats2024-gli", (0, 1, 2, 3), ("background", "NETC", "SNFH", "ET"),
                            extra=((4, 0),), extra_regions=(("RC", (4,)),))
# BraTS 2024-2025 PED: 1 ET, 2 NET, 3 CC (cystic component, part of the core), 4 ED; CC is read as core.
BRATS2024_PED = LabelScheme("brats2024-ped", (0, 2, 4, 1), ("background", "NET", "ED", "ET"), extra=((3, 1),))

SCHEMES: dict[str, LabelScheme] = {"brats2020": BRATS2020, "brats2021": BRATS2020, "brats2023": BRATS2023,
                                   "brats2024-gli": BRATS2024_GLI, "brats2024-ped": BRATS2024_PED, "msd": MSD}


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
