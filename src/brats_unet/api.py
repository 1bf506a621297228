"""The Python API, for notebooks and pipelines: load a run, segment arrays in memory, score label maps.

    import brats_unet as bu
    run = bu.load_run("runs/paper")                       # or a packed run.zip
    folds = bu.load_runs(["runs/cv/fold0", "runs/cv/fold1"])   # an ensemble averaging probabilities
    labels = bu.predict_arrays(run, {"flair": flair, "t1ce": t1ce}, affine)   # (X, Y, Z) uint8, BraTS codes
    scores = bu.score(labels, reference, spacing=(1, 1, 1))                   # {"WT": {"dice": ...}, ...}

Arrays go through exactly the code path files do (same preprocessing, inference and decoding), so a
prediction from arrays equals the one ``brats-unet predict`` writes for the same volumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

import nibabel as nib
import numpy as np

from .brats import MODALITIES, REGION_NAMES, get_scheme
from .data.discovery import Case, Source
from .errors import DataError
from .evaluation.evaluate import evaluate
from .infer.predict import LoadedRun, load_run, load_runs, segment
from .infer.uncertainty import uncertainty_maps
from .metrics.regions import score_case
from .study.runner import run_study
from .study.spec import load_study
from .train.loop import train

__all__ = ["load_run", "load_runs", "predict_arrays", "score", "train", "evaluate", "load_study", "run_study",
           "LoadedRun"]


def _case(images: Mapping[str, np.ndarray], affine: Optional[np.ndarray], case_id: str,
          brain: Optional[np.ndarray] = None) -> Case:
    unknown = sorted(set(images) - set(MODALITIES))
    if unknown:
        raise DataError(f"unknown modality {unknown[0]!r}; images take {', '.join(MODALITIES)}")
    affine = np.eye(4) if affine is None else np.asarray(affine, float)
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise DataError(f"affine: expected a finite 4x4 matrix, got shape {affine.shape}")
    sources = {m: Source(Path(f"<array {m}>"), image=nib.Nifti1Image(_volume(f"images[{m!r}]", a), affine))
               for m, a in images.items()}
    mask = None if brain is None else Source(Path("<array brain_mask>"),
                                             image=nib.Nifti1Image(np.asarray(brain, np.uint8), affine))
    return Case(case_id, "brats2020", sources, brain=mask)


def predict_arrays(run: LoadedRun, images: Mapping[str, np.ndarray], affine: Optional[np.ndarray] = None,
                   labels: str = "brats2020", probabilities: bool = False, tta: Optional[bool] = None,
                   case_id: str = "array", brain_mask: Optional[np.ndarray] = None, uncertainty: bool = False,
                   ) -> np.ndarray | tuple:
    """Segment one case given as arrays.

    Args:
        run: from :func:`load_run`.
        images: {modality: (X, Y, Z) array} holding at least the modalities the run was trained on
            (``run.cfg.data.modalities``), raw intensities as in the files.
        affine: the volumes' 4x4 voxel-to-world matrix (spacing is read from it); identity if None.
        labels: the edition whose label codes to return (``brats2020``: ET = 4, ``brats2023``: ET = 3, ``msd``).
        probabilities: also return the (K, X, Y, Z) float32 probabilities (classes, or WT/TC/ET regions).
        tta: average over flips; None: as the run's ``eval.tta`` says.
        brain_mask: (X, Y, Z) brain mask (non-zero = brain) for images that are not skull-stripped or whose
            background is not one value; by default the brain is every voxel unlike the border value.
        uncertainty: also return {"WT", "TC", "ET": (X, Y, Z) uint8 0..100} uncertainty maps, as
            ``predict --uncertainty`` writes them (the entropy of each region's probability).

    Returns:
        (X, Y, Z) uint8 labels; with ``probabilities`` and/or ``uncertainty``, a tuple of the labels followed by
        the probabilities and/or the maps, in that order.
    """
    internal, probs = segment(run, _case(images, affine, case_id, brain_mask), tta, probabilities or uncertainty)
    out = get_scheme(labels).from_internal(internal)
    extra: list = []
    if probabilities and probs is not None:
        extra.append(probs.numpy().astype(np.float32))
    if uncertainty and probs is not None:
        extra.append(uncertainty_maps(probs, run.cfg.loss.mode))
    return (out, *extra) if extra else out


def _volume(name: str, array: np.ndarray) -> np.ndarray:
    """A 3D numeric array NIfTI can hold: int64/uint64 (numpy's default integers, which NIfTI refuses) become
    float32; anything else that is no 3D number volume is a DataError naming the argument."""
    a = np.asarray(array)
    if a.ndim != 3 or a.dtype == bool or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise DataError(f"{name}: expected a 3D numeric volume (X, Y, Z), got dtype {a.dtype} and shape {a.shape}")
    return a.astype(np.float32) if a.dtype in (np.int64, np.uint64) else a


def score(prediction: np.ndarray, reference: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0),
          labels: str = "brats2020", convention: str = "brats2020") -> dict[str, dict[str, float]]:
    """Per-region (WT, TC, ET) Dice, IoU, HD95 (mm), sensitivity, specificity, precision, MCC and volumes of
    two label maps in ``labels`` codes, as ``brats-unet score`` computes them."""
    scheme = get_scheme(labels)
    for name, a in (("prediction", prediction), ("reference", reference)):
        if np.ndim(a) != 3:
            raise DataError(f"{name}: expected a 3D label map (X, Y, Z), got shape {np.shape(a)}")
    spacing = tuple(spacing)
    if len(spacing) != 3 or not all(np.isfinite(z) and z > 0 for z in spacing):
        raise DataError(f"spacing: expected three positive voxel sizes in mm, got {spacing}")
    pred, ref = scheme.to_internal(prediction, "prediction"), scheme.to_internal(reference, "reference")
    if pred.shape != ref.shape:
        raise DataError(f"prediction shape {pred.shape} differs from reference {ref.shape}")
    result = score_case(pred, ref, spacing, convention)
    return {r: result[r] for r in REGION_NAMES}
