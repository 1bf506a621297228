"""Segment cases into ``<case>_seg.nii.gz``: uint8, the input's shape, affine and header, the input
edition's label codes, slices outside the model's range and voxels outside its box labelled background."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import nibabel as nib
import numpy as np
import torch

from ..brats import get_scheme
from ..config import Config
from ..data.discovery import Case, Source
from ..data.preprocess import preprocess_case, to_original
from ..data.volumes import open_image
from ..device import resolve_device, resolve_precision
from ..errors import BratsError
from ..io import atomic_write
from ..models import build_model
from ..runs.checkpoint import load_checkpoint
from ..runs.folder import read_run_config
from .inferer import case_logits, to_labels


@dataclass
class LoadedRun:
    """A trained model ready for inference."""

    cfg: Config
    model: torch.nn.Module
    device: torch.device
    precision: str


def load_run(run_dir: str | Path, checkpoint: str = "best", device: str = "auto") -> LoadedRun:
    """Load the config and the ``best``/``last`` checkpoint of a run folder (``weights_only=True``)."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    dev = resolve_device(device)
    model = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    model.load_state_dict(load_checkpoint(run_dir / f"{checkpoint}.pt")["model"])
    model.to(dev).eval()
    return LoadedRun(cfg, model, dev, resolve_precision(cfg.train.precision, dev))


def probabilities(run: LoadedRun, case: Case, tta: bool = False) -> torch.Tensor:
    """Class (multiclass) or region (regions) probabilities in the original grid, (K, X, Y, Z)."""
    prepared = preprocess_case(case, run.cfg.data, with_seg=False, multiple=run.cfg.model.multiple)
    logits = case_logits(run.model, torch.from_numpy(prepared.image.astype(np.float32)), run.cfg,
                         run.device, run.precision, tta)
    probs = torch.sigmoid(logits) if run.cfg.loss.mode == "regions" else torch.softmax(logits, 0)
    return to_original(probs, prepared.meta)


def segment(run: LoadedRun, case: Case, tta: bool = False) -> tuple[np.ndarray, torch.Tensor]:
    """(internal labels (X, Y, Z) uint8, probabilities (K, X, Y, Z)) for one case."""
    probs = probabilities(run, case, tta)
    return to_labels(probs, run.cfg.loss.mode, threshold=0.5).numpy(), probs


def write_seg(labels: np.ndarray, reference: Path, path: Path) -> Path:
    """Write labels as uint8 NIfTI with the reference image's affine and header, atomically."""
    ref = open_image(Source(Path(reference)))
    header = ref.header.copy()
    header.set_data_dtype(np.uint8)
    img = nib.Nifti1Image(labels.astype(np.uint8), ref.affine, header)
    img.header.set_slope_inter(1.0, 0.0)
    atomic_write(path, lambda tmp: nib.save(img, str(tmp)))
    return path


def predict_case(run: LoadedRun, case: Case, out_dir: Path, tta: bool = False, save_probabilities: bool = False,
                 labels: Optional[str] = None) -> Path:
    """Segment one case and write ``<case>_seg.nii.gz`` (and optionally ``<case>_probabilities.npz``)."""
    internal, probs = segment(run, case, tta)
    scheme = get_scheme(labels) if labels else case.scheme
    path = write_seg(scheme.from_internal(internal), case.reference, out_dir / f"{case.case_id}_seg.nii.gz")
    if save_probabilities:
        atomic_write(out_dir / f"{case.case_id}_probabilities.npz",
                     lambda tmp: np.savez_compressed(str(tmp), probabilities=probs.numpy().astype(np.float16),
                                                     mode=run.cfg.loss.mode))
    return path


def predict_cases(run: LoadedRun, cases: list[Case], out_dir: str | Path, tta: bool = False,
                  save_probabilities: bool = False, labels: Optional[str] = None,
                  progress: bool = True) -> tuple[list[Path], list[str]]:
    """Predict every case; a failing case is reported and the others still run. Returns (written, failures)."""
    out_dir = Path(out_dir)
    written, failures = [], []
    for case in cases:
        try:
            written.append(predict_case(run, case, out_dir, tta, save_probabilities, labels))
            if progress:
                print(f"{case.case_id}: {written[-1]}", flush=True)
        except BratsError as exc:
            failures.append(f"case {case.case_id}: {exc}")
            print(f"brats-unet predict: error: case {case.case_id}: {exc}", file=sys.stderr)
    return written, failures
