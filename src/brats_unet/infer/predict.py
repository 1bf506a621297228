"""Segment cases into ``<case>_seg.nii.gz``: uint8, the input's shape, affine and header, the input
edition's label codes, slices outside the model's range and voxels outside its box labelled background."""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import nibabel as nib
import numpy as np
import torch

from ..atomic_files import STALE_S, atomic_write, make_folder, read_json, remove_stale_temps
from ..brats import get_scheme
from ..config import Config, apply_overrides, from_dict, parse_override, to_dict
from ..data.discovery import Case, Source
from ..data.preprocess import CaseMeta, preprocess_case, resize_plane, to_original
from ..data.volumes import open_image
from ..device import resolve_device, resolve_precision
from ..errors import BratsError, ConfigError, DataError, cause
from ..models import build_model, instance_norm_as_group_norm
from ..models.ensemble import MonteCarloDropout, ProbabilityEnsemble, has_dropout
from ..runs.checkpoint import load_checkpoint
from ..runs.folder import read_run_config
from ..runs.pack import unpacked
from .backend import choose_engine, open_export
from .postprocess import Postprocess, apply, read_choice
from .uncertainty import map_path, uncertainty_maps
from .whole_case import case_logits, to_labels


@dataclass
class LoadedRun:
    """A trained model (or an ensemble of runs, :func:`load_runs`) ready for inference, with the
    post-processing chosen for it on validation (None: none) and a sentence saying why."""

    cfg: Config
    model: torch.nn.Module
    device: torch.device
    precision: str
    postprocess: Optional[Postprocess] = None
    postprocess_note: str = "no post-processing (eval.postprocess: none)"
    engine: str = "torch"  # "onnxruntime" when model is an exported graph (eval.engine)
    engine_note: str = ""
    signatures: dict = field(default_factory=dict)  # the training data's intensity profiles (data/signatures.py)


def run_overrides(cfg: Config, overrides: Iterable[str]) -> Config:
    """``cfg`` with inference-time ``key=value`` overrides: ``eval.*`` and ``data.nonfinite`` only (the network
    and its preprocessing are the run's)."""
    overrides = list(overrides)
    for text in overrides:
        key = ".".join(parse_override(text)[0])
        if not (key.startswith("eval.") or key == "data.nonfinite"):
            raise ConfigError(f"--set {key}: a trained run takes only eval.* keys and data.nonfinite "
                              "(its model and preprocessing are fixed); e.g. --set eval.tta=true")
    return from_dict(apply_overrides(to_dict(cfg), overrides)) if overrides else cfg


def load_run(run_dir: str | Path, checkpoint: str = "best", device: str = "auto",
             overrides: Iterable[str] = (), as_trained: bool = False) -> LoadedRun:
    """Load the config and the ``best``/``last`` checkpoint of a run folder (``weights_only=True``).

    ``overrides`` (``eval.*``, ``data.nonfinite``) adjust how the run predicts, e.g. ``eval.tta=true`` or
    ``eval.precision=fp32`` (the run's ``train.precision`` otherwise).
    On the CPU the network's 2D instance norms run as the equivalent, faster GroupNorm(C, C)
    (:func:`~brats_unet.models.instance_norm_as_group_norm`); ``as_trained=True`` keeps the modules the run
    was trained with (export: ONNX Runtime ran the InstanceNorm graph faster).

    Raises:
        DataError: a missing or damaged checkpoint (with a hint to try ``last``), or a ``config.yaml``
            that no longer describes the checkpoint's network (naming the keys that differ).
    """
    run_dir = Path(run_dir)
    if run_dir.is_file() and zipfile.is_zipfile(run_dir):  # a packed run (brats-unet pack) works as it is
        run_dir = unpacked(run_dir)
    cfg = read_run_config(run_dir)
    dev = resolve_device(device)
    model = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    path = run_dir / f"{checkpoint}.pt"
    try:
        state = load_checkpoint(path)
    except DataError as exc:
        hint = "; try --checkpoint last" if checkpoint != "last" and (run_dir / "last.pt").exists() else ""
        raise DataError(f"{exc}{hint}") from None
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError):
        raise DataError(f"{run_dir}/config.yaml does not describe the network in {path.name}"
                        f"{_differences(to_dict(cfg), state.get('config'))}; restore the run's config.yaml") from None
    edited = _edited(to_dict(cfg), state.get("config"))
    if edited:
        raise DataError(f"{run_dir}/config.yaml was edited after training: {'; '.join(edited[:3])} (the checkpoint "
                        f"{path.name} holds the config it was trained with); restore config.yaml, and change "
                        "inference settings with --set eval.*")
    model.to(dev).eval()
    if dev.type == "cpu" and not as_trained:  # the same arithmetic, faster on the CPU (measured there only)
        instance_norm_as_group_norm(model)
    cfg = run_overrides(cfg, overrides)
    precision = (resolve_precision(cfg.eval.precision, dev, "eval.precision") if cfg.eval.precision
                 else resolve_precision(cfg.train.precision, dev))
    run = LoadedRun(cfg, _monte_carlo(model, cfg, run_dir), dev, precision)
    if (run_dir / "signatures.json").is_file():
        run.signatures = read_json(run_dir / "signatures.json")
    # Monte-Carlo dropout needs the network's dropout layers, which an exported graph has folded away
    engine = "torch" if cfg.eval.mc_dropout else cfg.eval.engine
    onnx, run.engine_note = choose_engine(engine, run_dir, path, dev, run.precision)
    session = open_export(onnx, engine) if onnx is not None else None
    if session is not None:  # the checkpoint was still loaded above: its errors are the same for every engine
        run.model, run.precision, run.engine = session, "fp32", "onnxruntime"
    elif onnx is not None:
        run.engine_note = f"engine: PyTorch, {run.precision} on {dev.type} (the export could not be loaded)"
    if cfg.eval.postprocess == "auto":
        run.postprocess, run.postprocess_note = read_choice([run_dir], checkpoint)
    return run


def _monte_carlo(model: torch.nn.Module, cfg: Config, run_dir: Path) -> torch.nn.Module:
    """``model`` itself, or wrapped in :class:`MonteCarloDropout` when ``eval.mc_dropout`` asks for samples."""
    if not cfg.eval.mc_dropout:
        return model
    if not has_dropout(model):
        raise ConfigError(f"eval.mc_dropout={cfg.eval.mc_dropout}: the network of {run_dir} has no dropout "
                          f"(model.dropout={cfg.model.dropout}); train with model.dropout > 0, or use --tta or "
                          "several runs for the uncertainty")
    return MonteCarloDropout(model, cfg.eval.mc_dropout, cfg.loss.mode).eval()


# What members of an ensemble must share: the input they read and the output they give.
ENSEMBLE_KEYS = (("data", "modalities"), ("data", "slices"), ("data", "size"), ("data", "mode"),
                 ("data", "normalize"), ("data", "patch_size"), ("data", "context"), ("model", "spatial_dims"),
                 ("model", "depth"), ("loss", "mode"))


def load_runs(run_dirs: Sequence[str | Path], checkpoint: str = "best", device: str = "auto",
              overrides: Iterable[str] = ()) -> LoadedRun:
    """One run, or several (e.g. the folds of a cross-validation) as one :class:`ProbabilityEnsemble`
    that averages their probabilities before decoding; it predicts with the first run's settings.

    Raises:
        DataError: runs that read different inputs or give different outputs (naming the key and runs).
    """
    runs = [load_run(r, checkpoint, device, overrides) for r in run_dirs]
    if len(runs) == 1:
        return runs[0]
    first = to_dict(runs[0].cfg)
    for path, run in zip(run_dirs[1:], runs[1:]):
        other = to_dict(run.cfg)
        for section, key in ENSEMBLE_KEYS:
            if other[section][key] != first[section][key]:
                raise DataError(f"runs {run_dirs[0]} and {path} differ at {section}.{key} ({first[section][key]!r} "
                                f"vs {other[section][key]!r}); an ensemble averages runs of one preprocessing")
    if {r.cfg.num_classes for r in runs} != {runs[0].cfg.num_classes}:
        raise DataError(f"runs {', '.join(map(str, run_dirs))} give different numbers of output channels")
    model = ProbabilityEnsemble([r.model for r in runs], runs[0].cfg.loss.mode).eval()
    ensemble = LoadedRun(runs[0].cfg, model, runs[0].device, runs[0].precision, signatures=runs[0].signatures)
    if runs[0].cfg.eval.postprocess == "auto":
        ensemble.postprocess, ensemble.postprocess_note = read_choice(run_dirs, checkpoint)
    return ensemble


# What fixes the network's input and the decoding of its output: a config.yaml that differs from the checkpoint's
# stored config here would predict with another preprocessing than the network learnt (eval.* and data.nonfinite
# may change; training-only keys such as the split or the budget do not reach predict).
INFERENCE_KEYS = {"data": ("modalities", "slices", "size", "mode", "normalize", "labels", "patch_size", "context"),
                  "loss": ("mode",), "model": None}  # None: every key of the section


def _edited(now: dict, stored: object) -> list[str]:
    """``key: value in config.yaml, value in the checkpoint`` for every inference key that differs."""
    if not isinstance(stored, dict):
        return []  # a checkpoint from before configs were stored: nothing to compare
    out = []
    for section, keys in INFERENCE_KEYS.items():
        mine, theirs = now.get(section, {}), stored.get(section)
        if not isinstance(theirs, dict):
            continue
        for key in keys or sorted(set(mine) | set(theirs)):
            if key in theirs and mine.get(key) != theirs[key]:
                out.append(f"{section}.{key} is {mine.get(key)!r} there but {theirs[key]!r} in the checkpoint")
    return out


def _differences(now: dict, stored: object) -> str:
    """`` (differs at model.base_features: 16 in config.yaml, 32 in the checkpoint)`` or ``""``."""
    if not isinstance(stored, dict):
        return ""
    diffs = [f"{section}.{k}: {v!r} in config.yaml, {stored[section].get(k)!r} in the checkpoint"
             for section, values in now.items() if isinstance(stored.get(section), dict)
             for k, v in values.items() if stored[section].get(k) != v]
    return f" (differs at {'; '.join(diffs[:3])})" if diffs else ""


def model_probabilities(run: LoadedRun, case: Case, tta: Optional[bool] = None) -> tuple[torch.Tensor, CaseMeta]:
    """Class (multiclass) or region (regions) probabilities in model space (K, S, H, W), and where they sit.

    ``tta`` None: the run's ``eval.tta`` (its config, or ``--set eval.tta=...``), the setting ``evaluate`` scored
    and chose the post-processing with.
    """
    tta = run.cfg.eval.tta if tta is None else tta
    prepared = preprocess_case(case, run.cfg.data, with_seg=False, multiple=run.cfg.model.multiple)
    if any(abs(mm - 1.0) > 0.1 for mm in prepared.meta.spacing):
        print(f"warning: case {case.case_id}: voxel spacing {' x '.join(f'{mm:.2f}' for mm in prepared.meta.spacing)} "
              "mm; BraTS data, and models trained on it, are 1 mm isotropic: resample the input to 1 mm first",
              file=sys.stderr)
    logits = case_logits(run.model, torch.from_numpy(prepared.image.astype(np.float32)), run.cfg,
                         run.device, run.precision, tta)
    probs = torch.sigmoid(logits) if run.cfg.loss.mode == "regions" else torch.softmax(logits, 0)
    return probs, prepared.meta


def labels_in_original(probs: torch.Tensor, meta: CaseMeta, mode: str, chunk: int = 16,
                       decode: str = "argmax") -> np.ndarray:
    """Internal labels (X, Y, Z) uint8 from model-space probabilities (K, S, H, W), a few slices at a time.

    The same as decoding :func:`to_original`'s full-grid probabilities (resizing is per slice, decoding per
    voxel), without ever holding them: a (4, 240, 240, 155) float32 volume is 140 MB, and its decode on a
    strided view was the slowest step after the model.
    """
    x0, x1, y0, y1 = meta.box
    nx, ny, nz = meta.shape
    s0 = meta.slices[0]
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(nx, x1), min(ny, y1)
    out = np.zeros((nz, nx, ny), np.uint8)  # background outside the slices and the box
    for i in range(0, probs.shape[1], chunk):
        part = probs[:, i : i + chunk]
        up = resize_plane(part.transpose(0, 1).float(), (x1 - x0, y1 - y0))  # (c, K, bx, by), contiguous
        labels = to_labels(up, mode, channel_axis=1, threshold=0.5, decode=decode).numpy()
        out[s0 + i : s0 + i + part.shape[1], cx0:cx1, cy0:cy1] = labels[:, cx0 - x0 : cx1 - x0, cy0 - y0 : cy1 - y0]
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def segment(run: LoadedRun, case: Case, tta: Optional[bool] = None, probabilities: bool = False,
            postprocess: bool = True) -> tuple[np.ndarray, Optional[torch.Tensor]]:
    """(internal labels (X, Y, Z) uint8, probabilities (K, X, Y, Z) when asked, else None) for one case;
    the run's chosen post-processing applied to the labels unless ``postprocess`` is False."""
    probs, meta = model_probabilities(run, case, tta)
    labels = labels_in_original(probs, meta, run.cfg.loss.mode, decode=run.cfg.eval.decode)
    if postprocess and run.postprocess is not None and run.postprocess.active:
        labels = apply(labels, run.postprocess)
    return labels, (to_original(probs, meta, run.cfg.loss.mode) if probabilities else None)


def write_seg(labels: np.ndarray, reference: Path, path: Path) -> Path:
    """Write labels as uint8 NIfTI with the reference image's affine and header, atomically."""
    ref = open_image(Source(Path(reference)))
    header = ref.header.copy()
    header.set_data_dtype(np.uint8)
    img = nib.Nifti1Image(labels.astype(np.uint8), ref.affine, header)
    img.header.set_slope_inter(1.0, 0.0)
    atomic_write(path, lambda tmp: nib.save(img, str(tmp)))
    return path


def seg_name(case_id: str, naming: str = "default") -> str:
    """Output file name: ``<case>_seg.nii.gz``, or ``<case>.nii.gz`` as the BraTS portals validate it
    (``BraTS-GLI-00001-000.nii.gz``, ``BraTS20_Validation_001.nii.gz``)."""
    return f"{case_id}.nii.gz" if naming == "challenge" else f"{case_id}_seg.nii.gz"


def predict_case(run: LoadedRun, case: Case, out_dir: Path, tta: Optional[bool] = None,
                 save_probabilities: bool = False, labels: Optional[str] = None, naming: str = "default",
                 uncertainty: bool = False) -> tuple[Path, bool]:
    """Segment one case and write ``<case>_seg.nii.gz`` (``naming="challenge"``: ``<case>.nii.gz``), and
    optionally ``<case>_probabilities.npz`` and the QU-BraTS uncertainty maps (``infer/uncertainty.py``).

    Returns the path and whether the mask holds any tumour.
    """
    internal, probs = segment(run, case, tta, probabilities=save_probabilities or uncertainty)
    scheme = get_scheme(labels) if labels else case.scheme
    path = write_seg(scheme.from_internal(internal), case.reference, out_dir / seg_name(case.case_id, naming))
    if uncertainty and probs is not None:
        for region, volume in uncertainty_maps(probs, run.cfg.loss.mode).items():
            write_seg(volume, case.reference, map_path(out_dir, case.case_id, region))
    if probs is not None and save_probabilities:
        atomic_write(out_dir / f"{case.case_id}_probabilities.npz",
                     lambda tmp: np.savez_compressed(str(tmp), probabilities=probs.numpy().astype(np.float16),
                                                     mode=run.cfg.loss.mode))
    return path, bool(internal.any())


@dataclass
class Predictions:
    """What ``predict`` did: files written, cases whose mask holds no tumour, and one line per failed case."""

    written: list[Path] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self, out_dir: str | Path) -> str:
        text = f"{len(self.written)} segmentation(s) written to {out_dir}"
        if self.empty:
            text += f"; {len(self.empty)} with no tumour predicted although the input has brain voxels " \
                    f"(look at them): {', '.join(self.empty)}"
        return text + (f"; {len(self.failures)} failed" if self.failures else "")


def _about(case_id: str, message: str) -> str:
    """Prefix ``case X:`` unless the message already starts with it."""
    return message if message.startswith(f"case {case_id}") else f"case {case_id}: {message}"


def predict_cases(run: LoadedRun, cases: list[Case], out_dir: str | Path, tta: Optional[bool] = None,
                  save_probabilities: bool = False, labels: Optional[str] = None,
                  progress: bool = True, naming: str = "default", uncertainty: bool = False) -> Predictions:
    """Predict every case; a failing case (bad input, a failed write) is reported and the others still run."""
    out_dir, done = make_folder(out_dir), Predictions()  # a folder that cannot be made fails once, not per case
    remove_stale_temps(out_dir, older_than_s=STALE_S)
    from tqdm.auto import tqdm

    for case in tqdm(cases, desc="predict", unit="case", disable=not progress or len(cases) < 2):
        try:
            path, tumour = predict_case(run, case, out_dir, tta, save_probabilities, labels, naming, uncertainty)
        except (BratsError, OSError) as exc:
            message = _about(case.case_id, str(exc) if isinstance(exc, BratsError) else f"{exc.filename}: {cause(exc)}")
            done.failures.append(message)
            tqdm.write(f"brats-unet predict: error: {message}", file=sys.stderr)
            continue
        done.written.append(path)
        if not tumour:
            done.empty.append(case.case_id)
        if progress:
            tqdm.write(f"{case.case_id}: {path}" + ("" if tumour else "  (no tumour predicted)"), file=sys.stdout)
    return done
