"""Post-processing chosen on validation cases, never by hand (nnU-Net's practice for BraTS).

Two steps on an internal label map (0 background, 1 core, 2 edema, 3 enhancing), in this order:

1. whole-tumour components (26-connected) smaller than ``min_fraction`` of the largest one become
   background: isolated false-positive blobs cost Dice and, worse, HD95. A fraction of the largest rather
   than a voxel count, so one setting fits small and large tumours; 1.0 keeps the largest component
   alone, nnU-Net's "remove all but the largest component";
2. when fewer than ``et_min`` enhancing voxels remain, they become core (1): BraTS scores a case
   without enhancing tumour Dice 1 only if none is predicted, so a few spurious ET voxels cost a whole
   point (Isensee et al., "nnU-Net for Brain Tumor Segmentation", BraTS 2020, chose this threshold on
   their cross-validation). Relabelling keeps WT and TC unchanged.

``evaluate`` scores every setting of :data:`GRID` on the run's validation cases (:func:`dice_table`,
Dice per WT/TC/ET, both-empty = 1 as the BraTS rankings count it), keeps the setting with the highest
mean Dice if it beats no post-processing (:func:`choose`) and stores the per-case table in
``RUN/postprocessing.json``; ``predict`` applies the stored choice (``eval.postprocess: auto``). For an
ensemble of fold runs the members' validation tables are pooled, as nnU-Net chooses on all folds'
validation predictions together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..atomic_files import read_json, write_json
from ..brats import CORE, ENHANCING, REGIONS
from ..errors import DataError

FILE = "postprocessing.json"


@dataclass(frozen=True)
class Postprocess:
    """Drop whole-tumour components smaller than ``min_fraction`` of the largest; relabel ET below ``et_min``
    voxels as core."""

    min_fraction: float = 0.0
    et_min: int = 0

    @property
    def active(self) -> bool:
        return self.min_fraction > 0 or self.et_min > 0

    def describe(self) -> str:
        if not self.active:
            return "none"
        parts = []
        if self.min_fraction >= 1:
            parts.append("all but the largest whole-tumour component removed")
        elif self.min_fraction > 0:
            parts.append(f"whole-tumour components smaller than {self.min_fraction:.0%} of the largest removed")
        if self.et_min:
            parts.append(f"enhancing tumour < {self.et_min} voxels relabelled core")
        return "; ".join(parts)


MIN_FRACTION = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
ET_MIN = (0, 10, 25, 50, 100, 200, 400, 800)
GRID: tuple[Postprocess, ...] = tuple(Postprocess(f, e) for f in MIN_FRACTION for e in ET_MIN)  # (0, 0) first


def _small(sizes: np.ndarray, fraction: float) -> np.ndarray:
    """Per component label (0 = background): True where the component is below ``fraction`` of the largest."""
    small = sizes < fraction * (sizes[1:].max() if len(sizes) > 1 else 0)
    small[0] = False
    return small


def apply(labels: np.ndarray, pp: Postprocess) -> np.ndarray:
    """``labels`` (internal codes, any shape) post-processed; a new array, the input is left as it is."""
    from ..metrics.lesions import components  # scipy: only where post-processing runs (predict starts faster)

    out = np.array(labels, copy=True)
    if pp.min_fraction > 0:
        comp, n = components(out > 0)
        if n > 1:
            out[_small(np.bincount(comp.ravel()), pp.min_fraction)[comp]] = 0
    et = out == ENHANCING
    if 0 < int(et.sum()) < pp.et_min:
        out[et] = CORE
    return out


def _dice(p: np.ndarray, r: np.ndarray) -> float:
    inter, total = int(np.count_nonzero(p & r)), int(np.count_nonzero(p)) + int(np.count_nonzero(r))
    return 1.0 if total == 0 else 2.0 * inter / total


def dice_table(labels: np.ndarray, ref: np.ndarray, grid: Sequence[Postprocess] = GRID) -> list[list[float]]:
    """[WT, TC, ET] Dice of ``labels`` post-processed with each setting of ``grid`` against ``ref``.

    Both label maps in internal codes and the same shape; cropped to their joint tumour box first
    (components and Dice do not change), and components labelled once per case.
    """
    from ..metrics.lesions import components
    from ..metrics.surface import crop_joint

    pred, ref = crop_joint(np.asarray(labels), np.asarray(ref), margin=1)
    comp, n = components(pred > 0)
    sizes = np.bincount(comp.ravel()) if n else np.zeros(1, np.int64)
    ref_masks = {name: np.isin(ref, codes) for name, codes in REGIONS.items()}
    rows: dict[float, tuple[float, float, float, int]] = {}  # min_fraction -> WT, TC, ET Dice and ET voxels
    table = []
    for pp in grid:
        if pp.min_fraction not in rows:
            kept = np.where(_small(sizes, pp.min_fraction)[comp], 0, pred) if pp.min_fraction and n > 1 else pred
            wt, tc, et = (_dice(np.isin(kept, codes), ref_masks[name]) for name, codes in REGIONS.items())
            rows[pp.min_fraction] = (wt, tc, et, int(np.count_nonzero(kept == ENHANCING)))
        wt, tc, et, et_voxels = rows[pp.min_fraction]
        if 0 < et_voxels < pp.et_min:  # all ET becomes core: ET Dice 1 if the reference has none, else 0
            et = 0.0 if ref_masks["ET"].any() else 1.0
        table.append([wt, tc, et])
    return table


Tables = dict[str, list[list[float]]]  # case id -> dice_table


def choose(tables: Tables, grid: Sequence[Postprocess] = GRID) -> tuple[Postprocess, float, float]:
    """(chosen setting, mean Dice without, mean Dice with it) over the cases of ``tables`` (case -> dice_table).

    The mean runs over cases and the three regions; the first setting of ``grid`` with the highest mean
    wins, so no post-processing (first) is kept unless another setting is strictly better.
    """
    if not tables:
        return grid[0], float("nan"), float("nan")
    means = np.asarray(list(tables.values()), float).mean(axis=(0, 2))  # (settings,)
    best = int(np.argmax(means))
    return grid[best], float(means[0]), float(means[best])


def write_choice(run_dir: str | Path, tables: dict[str, list[list[float]]], checkpoint: str, tta: bool) -> dict:
    """Choose on ``tables`` and store the choice with its evidence in ``RUN/postprocessing.json``."""
    chosen, without, with_ = choose(tables)
    record = {"checkpoint": checkpoint, "tta": tta, "chosen": [chosen.min_fraction, chosen.et_min],
              "description": chosen.describe(), "cases": len(tables), "mean_dice_without": without,
              "mean_dice_with": with_, "grid": [[g.min_fraction, g.et_min] for g in GRID], "dice": tables}
    write_json(Path(run_dir) / FILE, record)
    return record


def read_choice(run_dirs: Sequence[str | Path], checkpoint: str) -> tuple[Optional[Postprocess], str]:
    """(the post-processing for one run or an ensemble of runs, a sentence saying why) from their
    ``postprocessing.json``: one run's choice, or a choice on the members' pooled validation tables."""
    tables: dict[str, list[list[float]]] = {}
    for run_dir in run_dirs:
        path = Path(run_dir) / FILE
        if not path.is_file():
            return None, f"no post-processing: {path} not found (brats-unet evaluate chooses it on validation)"
        try:
            record = read_json(path)
        except ValueError:
            raise DataError(f"{path}: not valid JSON; delete it and run brats-unet evaluate again") from None
        if record.get("checkpoint") != checkpoint or record.get("grid") != [[g.min_fraction, g.et_min] for g in GRID]:
            return None, f"no post-processing: {path} was chosen for another checkpoint or grid; evaluate again"
        if len(run_dirs) == 1:
            chosen = Postprocess(*record["chosen"])
            return chosen, f"post-processing chosen on {record['cases']} validation case(s): {chosen.describe()}"
        tables.update(record["dice"])
    chosen = choose(tables)[0]
    return chosen, f"post-processing chosen on the members' {len(tables)} validation case(s): {chosen.describe()}"
