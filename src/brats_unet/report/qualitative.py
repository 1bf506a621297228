"""Figure 3 for a trained run: one case, one axial slice, prediction against ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.discovery import discover_cases
from ..data.preprocess import normalise
from ..data.volumes import read_array, read_seg
from ..errors import DataError
from ..infer.predict import load_run, segment
from ..io import read_json
from .figures import figure3


def pick_slice(ref: np.ndarray) -> int:
    """The axial slice with the largest whole-tumour area."""
    return int((ref > 0).sum(axis=(0, 1)).argmax())


def make_figure3(run_dir: str | Path, case_id: str | None = None, slice_index: int | None = None,
                 data_root: str | Path | None = None, checkpoint: str = "best", run=None,
                 pred: np.ndarray | None = None) -> Path:
    """Render Figure 3 into ``run_dir/figures``; default case: the first test case.

    ``pred`` (internal codes, original geometry) skips re-running the model when the caller has it.
    """
    run_dir = Path(run_dir)
    data_root = Path(data_root or read_json(run_dir / "run.json")["data_root"])
    split = read_json(run_dir / "split.json")
    case_id = case_id or (split["test"] or split["val"])[0]
    cases = {c.case_id: c for c in discover_cases(data_root)}
    if case_id not in cases or cases[case_id].seg is None:
        raise DataError(f"case {case_id}: not found with a segmentation under {data_root}")
    case = cases[case_id]
    if pred is None:
        pred, _ = segment(run or load_run(run_dir, checkpoint), case)
    ref = read_seg(case)
    z = pick_slice(ref) if slice_index is None else slice_index
    flair = normalise(read_array(case.images["flair"]).astype(np.float32), "zscore")
    path = run_dir / "figures" / f"fig3_{case_id}_z{z}.png"
    return figure3(flair[:, :, z], ref[:, :, z], pred[:, :, z], path, f"{case_id}, axial slice {z}")
