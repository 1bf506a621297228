"""Figure 3 for a trained run: one case, one axial slice, prediction against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..data.discovery import discover_cases
from ..data.preprocess import normalise
from ..data.volumes import open_image, read_array, read_seg
from ..errors import DataError
from ..infer.predict import LoadedRun, load_run, segment
from ..plots import slice_comparison
from ..runs.folder import data_root_of, read_split


def pick_slice(ref: np.ndarray) -> int:
    """The axial slice with the largest whole-tumour area."""
    return int((ref > 0).sum(axis=(0, 1)).argmax())


def make_slice_comparison(run_dir: str | Path, case_id: Optional[str] = None, slice_index: Optional[int] = None,
                          data_root: Optional[str | Path] = None, checkpoint: str = "best",
                          run: Optional[LoadedRun] = None, pred: Optional[np.ndarray] = None) -> Path:
    """Render Figure 3 into ``run_dir/figures``; default case: the first test case.

    ``pred`` (internal codes, original geometry) skips re-running the model when the caller has it.
    """
    run_dir = Path(run_dir)
    data_root = data_root_of(run_dir, data_root)
    split = read_split(run_dir)
    case_id = case_id or (split["test"] or split["val"])[0]
    cases = {c.case_id: c for c in discover_cases(data_root)}
    if case_id not in cases or cases[case_id].seg is None:
        raise DataError(f"case {case_id}: not found with a segmentation under {data_root}")
    case = cases[case_id]
    shape = open_image(case.images["flair"]).shape  # a volume that is not 3D is refused with its own message below
    depth = shape[2] if len(shape) >= 3 else 0
    if slice_index is not None and depth and not 0 <= slice_index < depth:
        raise DataError(f"--slice {slice_index}: case {case_id} has axial slices 0..{depth - 1}; pick one of those "
                        "(or leave --slice out for the slice with the most tumour)")
    if pred is None:
        pred, _ = segment(run or load_run(run_dir, checkpoint), case)
    ref = read_seg(case)
    assert ref is not None and case.seg is not None  # checked above: the case has a segmentation
    flair = normalise(read_array(case.images["flair"]).astype(np.float32), "zscore")
    for name, labels in (("segmentation", ref), ("prediction", pred)):
        if labels.shape != flair.shape:
            raise DataError(f"{case.seg.path if name == 'segmentation' else case_id}: {name} shape {labels.shape} "
                            f"differs from the images' {flair.shape}")
    z = pick_slice(ref) if slice_index is None else slice_index
    path = run_dir / "figures" / f"fig3_{case_id}_z{z}.png"
    return slice_comparison(flair[:, :, z], ref[:, :, z], pred[:, :, z], path, f"{case_id}, axial slice {z}")
