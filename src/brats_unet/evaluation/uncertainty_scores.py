"""``brats-unet score PRED REF --uncertainty DIR``: the QU-BraTS 2020 score of every case and region.

The maps are ``DIR/<case>_unc_{whole,core,enhance}.nii.gz`` (what ``predict --uncertainty`` writes), on the
prediction's grid, with values in 0..100. The brain mask is the reference case's T1 > 0, as the organisers
compute it, so REF must be the dataset (case folders with images), not loose segmentation files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..brats import REGION_NAMES, LabelScheme, get_scheme, to_regions
from ..data.discovery import Source, discover_cases
from ..data.volumes import check_grid, read_array, read_seg
from ..errors import DataError
from ..metrics.uncertainty import qubrats
from .scoring import find_segs

SUFFIX = {"WT": "whole", "TC": "core", "ET": "enhance"}


def read_map(path: Path, pred_source: Source) -> np.ndarray:
    """One uncertainty map, checked: present, on the prediction's grid, finite values in 0..100."""
    if not path.exists():
        raise DataError(f"{path}: uncertainty map missing (predict --uncertainty writes <case>_unc_whole, "
                        "_unc_core and _unc_enhance)")
    source = Source(path)
    unc = read_array(source)
    check_grid(source, unc.shape, pred_source, "an uncertainty map must be on its prediction's grid")
    unc = unc.astype(np.float64)
    if not np.isfinite(unc).all() or unc.min() < 0 or unc.max() > 100:
        raise DataError(f"{path}: values must lie in 0..100 (0 = certain), found {unc.min():.4g}..{unc.max():.4g}")
    return unc


def score_case(case_id: str, pred_path: Path, case, unc_dir: Path, scheme: LabelScheme) -> list[dict]:
    """One row per region: dice_auc, ftp_auc, ftn_auc and the combined score."""
    pred_source = Source(pred_path)
    pred = scheme.to_internal(read_array(pred_source), str(pred_path))
    ref = read_seg(case)
    if ref is None or ref.shape != pred.shape:
        raise DataError(f"case {case_id}: prediction {pred_path} is not on the reference's grid")
    image = case.images.get("t1") or case.reference_source
    brain = read_array(image) > 0
    pred_r, ref_r = to_regions(pred), to_regions(ref)
    rows = []
    for i, region in enumerate(REGION_NAMES):
        unc = read_map(unc_dir / f"{case_id}_unc_{SUFFIX[region]}.nii.gz", pred_source)
        rows.append({"case": case_id, "region": region, **qubrats(ref_r[i], pred_r[i], unc, brain)})
    return rows


def score_uncertainty(pred_dir: str | Path, ref_dir: str | Path, unc_dir: str | Path,
                      labels: str = "brats2020") -> list[dict]:
    """Rows {case, region, dice_auc, ftp_auc, ftn_auc, score} for every reference case."""
    scheme, unc_dir = get_scheme(labels), Path(unc_dir)
    if not unc_dir.is_dir():
        raise DataError(f"--uncertainty {unc_dir}: folder not found")
    cases = {c.case_id: c for c in discover_cases(ref_dir) if c.seg is not None and c.images}
    if not cases:
        raise DataError(f"{ref_dir}: score --uncertainty needs the reference cases with their images (the brain "
                        "mask is T1 > 0, as the QU-BraTS organisers compute it); give the dataset folder as REF")
    preds = find_segs(pred_dir)
    rows = []
    for cid in sorted(cases):
        if cid not in preds:
            raise DataError(f"case {cid}: no prediction in {pred_dir}")
        rows += score_case(cid, preds[cid], cases[cid], unc_dir, scheme)
    return rows
