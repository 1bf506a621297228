"""Label schemes of the BraTS editions, each mapped to one internal contiguous scheme and back.

Internal scheme (what models see): 0 background, 1 tumour core / necrosis, 2 edema, 3 enhancing.
Regions (BraTS evaluation): WT = {1, 2, 3}, TC = {1, 3}, ET = {3} in internal codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError, look_up

INTERNAL_NAMES = ("background", "core", "edema", "enhancing")
REGIONS: dict[str, tuple[int, ...]] = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}


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
        """Map edition codes to internal codes (uint8). Raises DataError naming ``source`` on unknown labels."""
        seg = np.asarray(seg)
        bad = self.invalid_labels(seg)
        if bad:
            raise DataError(f"{source}: labels {bad} are not in the {self.name} scheme {sorted(self.codes)}")
        return self._lut()[seg.astype(np.int64)]

    def invalid_labels(self, seg: np.ndarray) -> list[int]:
        """Labels present in ``seg`` that the scheme does not define."""
        return sorted(int(v) for v in np.unique(seg) if v not in self.codes)

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


def region_masks(internal: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean WT/TC/ET masks from an internal label map of any shape."""
    return {name: np.isin(internal, codes) for name, codes in REGIONS.items()}
