"""Which uncertainty source ranks the errors best? Single-run entropy against flip TTA, on the 30-case CV.

Every test case of ``studies/cv30`` is predicted by the fold model that never saw it, once plainly and once
with ``--tta`` (the 4 in-plane flips), each with its uncertainty maps as ``predict --uncertainty`` writes them;
per case and region: the QU-BraTS 2020 score and the map's AUROC for error, then the paired difference TTA −
single over the cases (mean, bootstrap 95 % CI, Wilcoxon p). An ensemble of the 5 folds cannot be compared on
the same cases: four of its members trained on each of them. Monte-Carlo dropout is not offered (no dropout in
the recipe).

    .venv/bin/python studies/uncertainty/sources.py runs/cv30 --variant recommended > studies/uncertainty/report.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import stats

import brats_unet as bu
from brats_unet.metrics.margins import auroc
from brats_unet.metrics.uncertainty import qubrats

CODES = {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}
MODALITIES = ("flair", "t1", "t1ce", "t2")


def scores(study: Path, variant: str) -> dict[str, dict[str, dict[str, float]]]:
    """{source: {f"{case} {region}": {"qubrats", "auroc"}}} for sources single and tta."""
    out: dict = {"single": {}, "tta": {}}
    for fold_dir in sorted((study / "runs" / variant).glob("fold*")):
        run_dir = fold_dir / "seed0"
        run = bu.load_run(run_dir, "last")
        for case in json.loads((run_dir / "split.json").read_text())["test"]:
            folder = study / "data" / case
            imgs = {m: nib.load(str(folder / f"{case}_{m}.nii.gz")) for m in MODALITIES}
            images = {m: np.asarray(i.dataobj) for m, i in imgs.items()}
            ref = np.asarray(nib.load(str(folder / f"{case}_seg.nii.gz")).dataobj)
            brain = images["t1"] > 0
            for source, tta in (("single", False), ("tta", True)):
                labels, maps = bu.predict_arrays(run, images, imgs["flair"].affine, tta=tta, uncertainty=True)
                for region, codes in CODES.items():
                    r, p = np.isin(ref, codes), np.isin(labels, codes)
                    out[source][f"{case} {region}"] = {"qubrats": qubrats(r, p, maps[region], brain)["score"],
                                                       "auroc": auroc(maps[region][brain], (r != p)[brain])}
    return out


def report(study: Path, variant: str) -> str:
    found = scores(study, variant)
    lines = ["# Uncertainty sources on the 30-case CV: single-run entropy against flip TTA", "",
             f"Command: `.venv/bin/python studies/uncertainty/sources.py {study} --variant {variant}`. Per region, "
             "mean over the test cases; Δ = TTA − single, paired per case (bootstrap 95 % CI, Wilcoxon p).", "",
             "| region | metric | single | TTA | Δ [95 % CI] | p |", "|---|---|---|---|---|---|"]
    rng = np.random.default_rng(0)
    for region in CODES:
        keys = sorted(k for k in found["single"] if k.endswith(f" {region}"))
        for metric in ("qubrats", "auroc"):
            a = np.array([found["single"][k][metric] for k in keys])
            b = np.array([found["tta"][k][metric] for k in keys])
            ok = ~np.isnan(a) & ~np.isnan(b)
            d = b[ok] - a[ok]
            boot = d[rng.integers(0, len(d), (10000, len(d)))].mean(1)
            p = stats.wilcoxon(d).pvalue if np.any(d) else 1.0
            lines.append(f"| {region} | {'QU-BraTS score' if metric == 'qubrats' else 'AUROC for error'} | "
                         f"{a[ok].mean():.3f} | {b[ok].mean():.3f} | {d.mean():+.3f} [{np.quantile(boot, .025):+.3f}, "
                         f"{np.quantile(boot, .975):+.3f}] | {p:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path)
    ap.add_argument("--variant", default="recommended")
    args = ap.parse_args()
    print(report(args.study, args.variant))


if __name__ == "__main__":
    main()
