"""Whole-case prediction: where the time goes, and a process's wall time from start to NIfTI written.

For the paper's recipe and the recommended one (random weights: the compute is the same), on one real
case: stages in one process (load, preprocess, model, back to the original grid, decode, write), the
model stage against a naive fp32 eager forward of the same slices, then `brats-unet predict` as a fresh
process (start to file) with its peak memory: PyTorch, PyTorch with --tta, and ONNX Runtime on the run's
export (`brats-unet export RUN --format onnx`), with how far its mask differs. Ratios are measured in this run.
Run: .venv/bin/python benchmarks/bench_predict.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from brats_unet.data.discovery import discover_cases
from brats_unet.data.preprocess import preprocess_case, to_original
from brats_unet.device import resolve_precision
from brats_unet.infer.predict import labels_in_original, load_run, write_seg
from brats_unet.infer.whole_case import case_logits, to_labels
from common import machine, require_sample, usage
from workloads import RECIPES, make_run

CASE = "Brats18_TCIA02_135_1"




def stages(run_dir: Path, case) -> dict[str, float]:
    t = {}
    t0 = time.perf_counter()
    run = load_run(run_dir, overrides=["eval.engine=torch"])
    t["load model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prepared = preprocess_case(case, run.cfg.data, with_seg=False, multiple=run.cfg.model.multiple)
    t["read + preprocess"] = time.perf_counter() - t0
    image = torch.from_numpy(prepared.image.astype(np.float32))
    t0 = time.perf_counter()
    logits = case_logits(run.model, image, run.cfg, run.device, run.precision)
    t["model"] = time.perf_counter() - t0
    probs = torch.sigmoid(logits) if run.cfg.loss.mode == "regions" else torch.softmax(logits, 0)
    t0 = time.perf_counter()
    labels = labels_in_original(probs, prepared.meta, run.cfg.loss.mode)
    t["to the original grid + decode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    old = to_labels(to_original(probs, prepared.meta), run.cfg.loss.mode, threshold=0.5).numpy()
    t["(full-grid probabilities, before)"] = time.perf_counter() - t0
    assert np.array_equal(old, labels)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_seg(case.scheme.from_internal(labels), case.reference, Path(tmp) / "seg.nii.gz")
        t["write NIfTI"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = run.model.float()
    with torch.no_grad():
        x = image.transpose(0, 1)
        pad = [(-s) % run.cfg.model.multiple for s in x.shape[2:]]
        x = torch.nn.functional.pad(x, (0, pad[1], 0, pad[0]))
        for i in range(0, len(x), 32):
            naive(x[i : i + 32])
    t["naive fp32 model (reference)"] = time.perf_counter() - t0
    t["slices"] = float(image.shape[1])
    return t


# A small launcher starts `predict` and reads its peak RSS: a child's ru_maxrss also counts the pages of the
# process that forked it (before exec), so measured from this benchmark's own ~1 GB process it read 1.2 GB
# for a `predict` that peaks at 0.8 GB.
LAUNCHER = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], check=True)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def process(run_dir: Path, case_dir: Path, *extra: str) -> tuple[float, float, np.ndarray]:
    """Wall seconds of `brats-unet predict RUN CASE [extra]` as a new process, its peak RSS in GB, its mask."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "brats_unet", "predict", str(run_dir), str(case_dir), "--out", tmp, "--quiet"]
        out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd, *extra], check=True, capture_output=True,
                             text=True)
        mask = np.asarray(nib.load(str(Path(tmp) / f"{case_dir.name}_seg.nii.gz")).dataobj)
    wall, peak_kb = out.stdout.split()[-2:]
    return float(wall), float(peak_kb) / 1e6, mask


def agreement(a: np.ndarray, b: np.ndarray) -> str:
    """Voxels that differ between two masks, and the whole-tumour Dice between them."""
    wa, wb = a > 0, b > 0
    dice = 2 * (wa & wb).sum() / max(1, wa.sum() + wb.sum())
    return f"{int((a != b).sum())} voxels differ, WT Dice between them {dice:.4f}"


def processes(run_dir: Path, case_dir: Path) -> None:
    """`predict` as a user runs it: PyTorch, with --tta, and ONNX Runtime on an export of the same weights."""
    wall, peak, mask = process(run_dir, case_dir, "--set", "eval.engine=torch")
    print(f"  `brats-unet predict` process:   {wall:7.3f} s start to NIfTI, peak RSS {peak:.2f} GB (PyTorch, "
          f"{resolve_precision('auto', torch.device('cpu'))})")
    tta, tta_peak, _ = process(run_dir, case_dir, "--set", "eval.engine=torch", "--tta")
    print(f"  ... with --tta (4 flips):       {tta:7.3f} s ({tta / wall:.2f}x), peak RSS {tta_peak:.2f} GB")
    subprocess.run([sys.executable, "-m", "brats_unet", "export", str(run_dir), "--format", "onnx"], check=True,
                   capture_output=True)
    ort, ort_peak, ort_mask = process(run_dir, case_dir, "--set", "eval.engine=onnxruntime")
    print(f"  ... ONNX Runtime (model.onnx):  {ort:7.3f} s ({wall / ort:.2f}x faster than PyTorch), peak RSS "
          f"{ort_peak:.2f} GB; {agreement(mask, ort_mask)}")
    auto = process(run_dir, case_dir)[0]
    print(f"  ... eval.engine=auto:           {auto:7.3f} s")


def main() -> None:
    sample = require_sample()
    case = next(c for c in discover_cases(sample) if c.case_id == CASE)
    print(f"torch {torch.__version__}; {machine()}; case {CASE}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in RECIPES.items():
            run_dir = make_run(Path(tmp) / name, config)
            stages(run_dir, case)  # warm the file cache and the kernels
            t = stages(run_dir, case)
            total = sum(v for k, v in t.items() if k not in ("slices", "naive fp32 model (reference)")
                        and not k.startswith("("))
            print(f"\n## {name} ({int(t['slices'])} slices)")
            for k, v in t.items():
                if k != "slices":
                    print(f"  {k:32s} {v:7.3f} s")
            print(f"  {'in-process total':32s} {total:7.3f} s; model {t['slices'] / t['model']:.1f} slices/s, "
                  f"{t['naive fp32 model (reference)'] / t['model']:.2f}x the naive fp32 forward; decode "
                  f"{t['(full-grid probabilities, before)'] / t['to the original grid + decode']:.1f}x faster "
                  "than before")
            processes(run_dir, sample / CASE)


if __name__ == "__main__":
    usage(__doc__)
    main()
