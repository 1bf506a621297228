"""Where the 30-case CV's errors are: every test case predicted once by the fold model that never saw it, as
``predict --uncertainty`` delivers it (post-processed as chosen on the fold's validation cases).

For each variant, per region: the errors by distance from the reference boundary, the share within 2 mm of the
margin and how much of that the uncertainty map flags, the map's AUROC for error (``metrics/margins.py``); and
for the whole tumour, which the recipes under-segment, where its false negatives are: the reference label they
carry, their axial position within the tumour, and their FLAIR intensity against the correctly found tumour.

    .venv/bin/python studies/cv30/errors.py runs/cv30 --variants recommended reference > studies/cv30/errors.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np

import brats_unet as bu
from brats_unet.brats import BRATS2020, MODALITIES
from brats_unet.brats import REGION_NAMES as REGIONS
from brats_unet.metrics.margins import BINS, margin_row
from brats_unet.metrics.uncertainty import qubrats

CODES = BRATS2020.region_codes()  # the BraTS 2018 files' codes, from the one module that owns them


def load_case(root: Path, case: str) -> tuple[dict, np.ndarray, np.ndarray, tuple]:
    """(images, reference labels, affine, spacing) of one case folder."""
    imgs = {m: nib.load(str(root / case / f"{case}_{m}.nii.gz")) for m in MODALITIES}
    ref = np.asarray(nib.load(str(root / case / f"{case}_seg.nii.gz")).dataobj).astype(np.uint8)
    flair = imgs["flair"]
    return ({m: np.asarray(i.dataobj) for m, i in imgs.items()}, ref, flair.affine,
            tuple(float(z) for z in flair.header.get_zooms()[:3]))


def wt_false_negatives(ref: np.ndarray, pred: np.ndarray, flair: np.ndarray) -> dict[str, float]:
    """Counts of the whole tumour's false negatives by reference label and axial third, and the median FLAIR
    z-score (over the brain) of false negatives and of true positives."""
    wt_ref, wt_pred = ref > 0, pred > 0
    fn, tp = wt_ref & ~wt_pred, wt_ref & wt_pred
    brain = flair != 0
    z = (flair - flair[brain].mean()) / (flair[brain].std() + 1e-6)
    zs = np.nonzero(wt_ref.any(axis=(0, 1)))[0]
    out = {"wt_voxels": float(wt_ref.sum()), "fn": float(fn.sum())}
    for code, name in ((2, "edema"), (1, "necrosis/non-enhancing"), (4, "enhancing")):
        out[f"fn {name}"] = float((fn & (ref == code)).sum())
    if len(zs):
        lo, hi = zs[0], zs[-1] + 1
        thirds = np.array_split(np.arange(lo, hi), 3)
        for name, part in zip(("first third", "middle third", "last third"), thirds):
            out[f"fn {name}"] = float(fn[:, :, part].sum())
    out["flair_z_fn"] = float(np.median(z[fn])) if fn.any() else np.nan
    out["flair_z_tp"] = float(np.median(z[tp])) if tp.any() else np.nan
    return out


def analyse(study: Path, variant: str, sets: list[str]) -> tuple[list[dict], list[dict]]:
    """(margin rows per case and region, WT false-negative rows per case) over every fold."""
    data = study / "data"
    margins, misses = [], []
    for fold_dir in sorted((study / "runs" / variant).glob("fold*")):
        run_dir = fold_dir / "seed0"
        run = bu.load_run(run_dir, "last", overrides=sets)
        for case in json.loads((run_dir / "split.json").read_text())["test"]:
            images, ref, affine, mm = load_case(data, case)
            labels, maps = bu.predict_arrays(run, images, affine, labels="brats2020", uncertainty=True,
                                             case_id=case)
            brain = images["flair"] != 0
            for region in REGIONS:
                r, p = np.isin(ref, CODES[region]), np.isin(labels, CODES[region])
                t1_brain = images["t1"] > 0  # the QU-BraTS organisers' brain mask
                margins.append({"case": case, "region": region, **margin_row(r, p, maps[region], brain, mm),
                                "qubrats": qubrats(r, p, maps[region], t1_brain)["score"]})
            misses.append({"case": case, **wt_false_negatives(ref, labels, images["flair"].astype(np.float32))})
    return margins, misses


def pooled(rows: list[dict], region: str) -> dict[str, float]:
    mine = [r for r in rows if r["region"] == region]
    errors = sum(r["errors"] for r in mine)
    near = sum(r["errors"] * r["share_within_2mm"] for r in mine if not np.isnan(r["share_within_2mm"]))
    flagged = sum(r["errors"] * r["share_within_2mm"] * r["flagged_within_2mm"] for r in mine
                  if not np.isnan(r["flagged_within_2mm"]))
    out = {"errors": errors, "fp_share": sum(r["fp"] for r in mine) / errors, "within": near / errors,
           "flagged": flagged / near if near else np.nan,
           "auroc": float(np.nanmean([r["auroc"] for r in mine])),
           "qubrats": float(np.mean([r["qubrats"] for r in mine]))}
    for _, _, name in BINS:
        out[name] = sum(r[f"fp {name}"] + r[f"fn {name}"] for r in mine) / errors
    return out


def report(study: Path, variants: list[str], sets: list[str]) -> str:
    given = "".join(f" --set {s}" for s in sets)
    lines = ["# Where the 30-case CV's errors are", "",
             f"Command: `.venv/bin/python studies/cv30/errors.py {study} --variants {' '.join(variants)}{given}`; "
             "every test case predicted once by its fold's model (300 steps), post-processed as chosen on the fold's "
             "validation cases; uncertainty = entropy of the region probability (single run, no TTA).", ""]
    for variant in variants:
        margins, misses = analyse(study, variant, sets)
        lines += [f"## {variant}", "", "Errors by distance from the reference boundary (shares of all erroneous "
                  "voxels, pooled over the cases; flagged: uncertainty >= 50; AUROC and the QU-BraTS 2020 score: "
                  "mean over cases)", "",
                  "| region | FP share | " + " | ".join(n for _, _, n in BINS) +
                  " | within 2 mm | of those flagged | AUROC | QU-BraTS score |", "|---" * (6 + len(BINS)) + "|"]
        for region in REGIONS:
            p = pooled(margins, region)
            lines.append(f"| {region} | {p['fp_share']:.0%} | " + " | ".join(f"{p[n]:.0%}" for _, _, n in BINS) +
                         f" | {p['within']:.0%} | {p['flagged']:.0%} | {p['auroc']:.3f} | {p['qubrats']:.3f} |")
        fn = sum(m["fn"] for m in misses)
        share = {k[3:]: sum(m.get(k, 0.0) for m in misses) / fn for k in misses[0] if k.startswith("fn ")}
        labels = ["edema", "necrosis/non-enhancing", "enhancing"]
        thirds = ["first third", "middle third", "last third"]
        lines += ["", f"Whole-tumour false negatives ({fn:.0f} voxels, {fn / sum(m['wt_voxels'] for m in misses):.0%} "
                  "of the reference whole tumour), by the reference label they carry and by axial third of the "
                  "tumour's extent:", "",
                  "| " + " | ".join(labels + thirds) + " |", "|---" * 6 + "|",
                  "| " + " | ".join(f"{share[k]:.0%}" for k in labels + thirds) + " |", "",
                  f"Median FLAIR z-score (brain) of the missed whole-tumour voxels: "
                  f"{np.nanmedian([m['flair_z_fn'] for m in misses]):.2f}, of the found ones: "
                  f"{np.nanmedian([m['flair_z_tp'] for m in misses]):.2f} (median over cases).", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path, help="the study's --out folder (runs/cv30)")
    ap.add_argument("--variants", nargs="+", default=["recommended", "reference"])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="inference settings for every run, e.g. eval.decode=regions (the after of the before/after)")
    args = ap.parse_args()
    print(report(args.study, args.variants, args.set))


if __name__ == "__main__":
    main()
