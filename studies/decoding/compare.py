"""Argmax against region decoding of the same softmax probabilities, on the 30-case CV (issue 34, item 2).

Every recipe under-segments the whole tumour (``studies/cv30/errors.md``: 68 % of the missed WT is faint edema).
A softmax network splits a tumour voxel's probability over three classes; argmax calls it background when no
tumour class alone beats background, even where tumour as a whole is the likelier answer. ``eval.decode:
regions`` sums the classes into WT/TC/ET and keeps each above one half, as a region-trained network decodes.

Each test case of a ``studies/cv30`` fold is predicted once by the fold's model (``last.pt``, the run's
precision) and decoded both ways from the same probabilities, each followed by the post-processing the fold
chose on its validation cases (what ``predict`` delivers). Per region: Dice, HD95, sensitivity and precision
pooled over the 30 cases; paired difference regions − argmax (bootstrap 95 % CI, Wilcoxon p).

    .venv/bin/python studies/decoding/compare.py runs/cv30 --variants recommended reference \\
        > studies/decoding/report.md
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from brats_unet.brats import BRATS2020, REGION_NAMES
from brats_unet.data.discovery import discover_cases
from brats_unet.data.volumes import read_seg, spacing
from brats_unet.evaluation.scoring import score_arrays
from brats_unet.infer.postprocess import apply
from brats_unet.infer.predict import labels_in_original, load_run, model_probabilities
from brats_unet.study.stats import compare

DECODINGS = ("argmax", "regions")
METRICS = ("dice", "hd95", "sensitivity", "precision")


def case_rows(study: Path, variant: str) -> list[dict]:
    """One row per (decoding, case, region) with every metric of ``score_arrays``."""
    rows = []
    cases = {c.case_id: c for c in discover_cases(study / "data")}
    for fold_dir in sorted((study / "runs" / variant).glob("fold*")):
        run_dir = fold_dir / "seed0"
        run = load_run(run_dir, "last")
        for case_id in json.loads((run_dir / "split.json").read_text())["test"]:
            case = cases[case_id]
            probs, meta = model_probabilities(run, case)
            ref = read_seg(case)
            assert ref is not None, case_id
            mm = spacing(case.images[run.cfg.data.modalities[0]])
            for decode in DECODINGS:
                labels = labels_in_original(probs, meta, run.cfg.loss.mode, decode=decode)
                if run.postprocess is not None and run.postprocess.active:
                    labels = apply(labels, run.postprocess)
                for r in score_arrays(case_id, BRATS2020.from_internal(labels), BRATS2020.from_internal(ref), mm,
                                      BRATS2020):
                    rows.append({"variant": variant, "fold": fold_dir.name, "decode": decode} | r)
            print(f"{variant} {fold_dir.name} {case_id}", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict], variant: str) -> list[str]:
    lines = [f"### {variant}", "", "| region | metric | argmax | regions | Δ [95 % CI] | Wilcoxon p |",
             "|---|---|---|---|---|---|"]
    for region in REGION_NAMES:
        for metric in METRICS:
            by = {d: {r["case"]: float(r[metric]) for r in rows if r["variant"] == variant and r["decode"] == d
                      and r["region"] == region} for d in DECODINGS}
            s = compare(by["regions"], by["argmax"])
            lines.append(f"| {region} | {metric} | {np.nanmean(list(by['argmax'].values())):.3f} | "
                         f"{np.nanmean(list(by['regions'].values())):.3f} | {s['mean_diff']:+.3f} "
                         f"[{s['ci_low']:+.3f}, {s['ci_high']:+.3f}] | {s['p']:.3f} |")
    return lines + [""]


def figure(rows: list[dict], variants: list[str], path: Path) -> None:
    """Before/after bars per variant: WT sensitivity and precision, WT/TC/ET Dice, argmax against regions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [("WT", "sensitivity"), ("WT", "precision"), ("WT", "dice"), ("TC", "dice"), ("ET", "dice")]
    fig, axes = plt.subplots(1, len(variants), figsize=(5.5 * len(variants), 3.6), squeeze=False, sharey=True)
    for ax, variant in zip(axes[0], variants):
        x = np.arange(len(bars))
        for k, decode in enumerate(DECODINGS):
            means = [np.nanmean([float(r[m]) for r in rows if r["variant"] == variant and r["decode"] == decode
                                 and r["region"] == region]) for region, m in bars]
            ax.bar(x + (k - 0.5) * 0.38, means, 0.38, label=f"decode: {decode}")
            for xi, m in zip(x, means):
                ax.text(xi + (k - 0.5) * 0.38, m + 0.01, f"{m:.2f}", ha="center", fontsize=7)
        ax.set_xticks(x, [f"{r} {m[:4]}" for r, m in bars])
        ax.set_ylim(0.4, 1.0)
        ax.set_title(f"{variant}: 30 unseen cases, mean")
    axes[0][0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path)
    ap.add_argument("--variants", nargs="+", default=["recommended"])
    ap.add_argument("--csv", type=Path, help="also write the per-case rows here")
    ap.add_argument("--figure", type=Path, help="also draw the before/after bars here (PNG)")
    ap.add_argument("--from-csv", type=Path, help="report from rows written before instead of predicting again")
    args = ap.parse_args()
    if args.from_csv:
        rows = list(csv.DictReader(open(args.from_csv)))
    else:
        rows = [r for v in args.variants for r in case_rows(args.study, v)]
    if args.figure:
        figure(rows, args.variants, args.figure)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    n = len({r["case"] for r in rows})
    print(f"# Argmax against region decoding on the 30-case CV\n\nCommand: `.venv/bin/python studies/decoding/"
          f"compare.py {args.study} --variants {' '.join(args.variants)}`; {n} test cases, each predicted by the "
          "fold model that never saw it, both decodings from the same probabilities, the fold's post-processing "
          "applied to both. Δ = regions − argmax, paired per case.\n")
    for v in args.variants:
        print("\n".join(table(rows, v)))


if __name__ == "__main__":
    main()
