"""Which uncertainty source ranks the errors best? Single-run entropy, flip TTA, an ensemble of runs and
Monte-Carlo dropout, on the 30-case CV (issue 36, item 4).

Every test case of ``studies/cv30`` is predicted only by models of the fold that held it out, each source with
its uncertainty maps as ``predict --uncertainty`` writes them:

- ``single``: the recipe's run alone (``--variant``), the entropy of its own probability;
- ``tta``: the same run with ``--tta`` (the 4 in-plane flips);
- ``ensemble``: the fold's runs of ``--ensemble`` variants averaged (``predict RUN RUN RUN``). The 5 folds
  cannot be the ensemble here: four of them trained on each case. The fold's runs of different recipes are the
  ensemble that has never seen the case;
- ``dropout`` and ``mc``: a run trained with dropout (``--dropout-variant``), plainly and with
  ``--mc-dropout N``; MC dropout is compared with its own network's single entropy, a paired test of the source
  rather than of the network.

Per case and region: the QU-BraTS 2020 score, the map's AUROC for error and the Dice of the source's mask; the
report gives the means and each source's paired difference from its baseline (bootstrap 95 % CI, Wilcoxon p).

    .venv/bin/python studies/uncertainty/sources.py runs/cv30 --csv studies/uncertainty/per_case.csv \\
        > studies/uncertainty/report.md
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

import brats_unet as bu
from brats_unet.brats import BRATS2020, MODALITIES
from brats_unet.metrics.margins import auroc
from brats_unet.metrics.uncertainty import qubrats
from brats_unet.study.stats import compare

CODES = BRATS2020.region_codes()  # the BraTS 2018 files' codes, from the one module that owns them
METRICS = {"qubrats": "QU-BraTS score", "auroc": "AUROC for error", "dice": "Dice of the mask"}


SOURCES = ("single", "tta", "ensemble", "dropout", "mc")


def sources(study: Path, fold: str, args: argparse.Namespace) -> dict[str, tuple]:
    """{source: (loaded run or ensemble, tta)} for one fold, the sources asked for."""
    runs = study / "runs"
    single = runs / args.variant / fold / "seed0"
    mc_run = runs / args.dropout_variant / fold / "seed0"
    make = {"single": lambda: (bu.load_run(single, "last"), False),
            "tta": lambda: (bu.load_run(single, "last"), True),
            "ensemble": lambda: (bu.load_runs([runs / v / fold / "seed0" for v in args.ensemble], "last"), False),
            "dropout": lambda: (bu.load_run(mc_run, "last"), False),
            "mc": lambda: (bu.load_run(mc_run, "last", overrides=[f"eval.mc_dropout={args.samples}"]), False)}
    return {name: make[name]() for name in args.sources}


FIELDS = ("source", "fold", "case", "region", "qubrats", "auroc", "dice")


def case_scores(study: Path, args: argparse.Namespace) -> list[dict]:
    """Rows {source, fold, case, region, qubrats, auroc, dice}; with ``--csv`` each case's rows are written as
    soon as they are scored, so an interrupted run keeps what it did."""
    rows: list[dict] = []
    sink = open(args.csv, "w", newline="") if args.csv else None
    writer = csv.DictWriter(sink, fieldnames=FIELDS) if sink else None
    if writer:
        writer.writeheader()
    for fold_dir in sorted((study / "runs" / args.variant).glob("fold*")):
        if args.folds is not None and int(fold_dir.name[4:]) not in args.folds:
            continue
        found = sources(study, fold_dir.name, args)
        for case in json.loads((fold_dir / "seed0" / "split.json").read_text())["test"]:
            folder = study / "data" / case
            imgs = {m: nib.load(str(folder / f"{case}_{m}.nii.gz")) for m in MODALITIES}
            images = {m: np.asarray(i.dataobj) for m, i in imgs.items()}
            ref = np.asarray(nib.load(str(folder / f"{case}_seg.nii.gz")).dataobj)
            brain = images["t1"] > 0
            for source, (run, tta) in found.items():
                labels, maps = bu.predict_arrays(run, images, imgs["flair"].affine, tta=tta, uncertainty=True)
                for region, codes in CODES.items():
                    r, p = np.isin(ref, codes), np.isin(labels, codes)
                    both = r.sum() + p.sum()
                    rows.append({"source": source, "fold": fold_dir.name, "case": case, "region": region,
                                 "qubrats": qubrats(r, p, maps[region], brain)["score"],
                                 "auroc": auroc(maps[region][brain], (r != p)[brain]),
                                 "dice": 2 * (r & p).sum() / both if both else 1.0})
            if writer and sink:
                writer.writerows(r for r in rows if r["case"] == case)
                sink.flush()
            print(f"{fold_dir.name} {case}", file=sys.stderr, flush=True)
    return rows


BASELINE = {"tta": "single", "ensemble": "single", "mc": "dropout"}


def report(rows: list[dict], args: argparse.Namespace, command: str) -> str:
    def values(source: str, region: str, metric: str) -> dict[str, float]:
        return {r["case"]: float(r[metric]) for r in rows if r["source"] == source and r["region"] == region}

    present = [s for s in SOURCES if any(r["source"] == s for r in rows)]
    pairs = [(s, b) for s, b in BASELINE.items() if s in present and b in present]
    n = len({r["case"] for r in rows})
    lines = ["# Uncertainty sources on the 30-case CV", "", f"Command: `{command}`; {n} test cases.", "",
             f"Sources: `single` = `{args.variant}` alone; `tta` = it with flip TTA; `ensemble` = the fold's runs of "
             f"{', '.join(f'`{v}`' for v in args.ensemble)} averaged; `dropout` = `{args.dropout_variant}` alone; "
             f"`mc` = it with {args.samples} Monte-Carlo dropout passes. Means over the test cases; Δ paired per case "
             "against the baseline named (bootstrap 95 % CI, Wilcoxon p).", "",
             "| region | metric | " + " | ".join(present) + " | " + " | ".join(f"Δ {s} − {b}" for s, b in pairs) + " |",
             "|---" * (2 + len(present) + len(pairs)) + "|"]
    for region in CODES:
        for metric, name in METRICS.items():
            means = [np.nanmean(list(values(s, region, metric).values())) for s in present]
            deltas = []
            for source, base in pairs:
                s = compare(values(source, region, metric), values(base, region, metric))
                deltas.append(f"{s['mean_diff']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}] p={s['p']:.3f}")
            lines.append(f"| {region} | {name} | " + " | ".join(f"{m:.3f}" for m in means) + " | "
                         + " | ".join(deltas) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path)
    ap.add_argument("--variant", default="recommended")
    ap.add_argument("--ensemble", nargs="+", default=["recommended", "reference", "deep_supervision"])
    ap.add_argument("--dropout-variant", default="dropout")
    ap.add_argument("--samples", type=int, default=8, help="Monte-Carlo dropout passes")
    ap.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    ap.add_argument("--folds", nargs="+", type=int, help="only these folds' test cases (default: all)")
    ap.add_argument("--csv", type=Path)
    ap.add_argument("--from-csv", type=Path, nargs="+", help="report from rows written before (several: merged)")
    args = ap.parse_args()
    if args.from_csv:
        rows = [r for f in args.from_csv for r in csv.DictReader(open(f))]
    else:
        rows = case_scores(args.study, args)
    print(report(rows, args, "python " + " ".join(sys.argv)))


if __name__ == "__main__":
    main()
