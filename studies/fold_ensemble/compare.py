"""The K-fold ensemble against its single members and against one model trained on all the data, on cases none
of them saw (issue 34, item 3: "the 5-fold ensemble at predict").

``studies/fold_ensemble/study.yaml`` trains the recipe's 4 fold models on the 16 sample cases; ``all`` is the
recipe trained on all 16 (``all_split.json``). Each case of ``--cases`` (the 14 extra cases, in neither role of
any fold) is predicted as ``predict`` delivers it (original geometry, the run's or the ensemble's chosen
post-processing):

- ``fold0`` .. ``fold3``: each fold model alone; ``single`` in the report is their per-case mean (what one
  fold model scores, on average);
- ``ensemble``: ``predict FOLD0 FOLD1 FOLD2 FOLD3`` (``bu.load_runs``, probabilities averaged);
- ``all``: the all-data model alone (nnU-Net's alternative to the ensemble: one model, 1/K of the predict time).

Per case and region: Dice and HD95; the report gives means and paired differences (bootstrap 95 % CI, Wilcoxon p).

    .venv/bin/python studies/fold_ensemble/compare.py runs/fold_ensemble runs/fold_ensemble-all \\
        --cases ../shared/data/brats2018-extra --csv studies/fold_ensemble/per_case.csv \\
        > studies/fold_ensemble/report.md
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from brats_unet.brats import BRATS2020, REGION_NAMES
from brats_unet.data.discovery import discover_cases
from brats_unet.data.volumes import read_seg, spacing
from brats_unet.evaluation.scoring import score_arrays
from brats_unet.infer.predict import load_run, load_runs, segment
from brats_unet.study.stats import compare

FIELDS = ("source", "case", "region", "dice", "hd95")
PAIRS = (("ensemble", "single"), ("all", "single"), ("ensemble", "all"))


def models(study: Path, all_run: Path) -> dict:
    """{source: loaded run} for the fold models, their ensemble and the all-data model (last checkpoints)."""
    folds = sorted((study / "runs" / "recommended").glob("fold*/seed0"))
    found = {d.parent.name: load_run(d, "last") for d in folds}
    found["ensemble"] = load_runs(folds, "last")
    found["all"] = load_run(all_run, "last")
    return found


def case_scores(study: Path, all_run: Path, cases_root: Path, sink: Path | None) -> list[dict]:
    rows: list[dict] = []
    runs = models(study, all_run)
    with open(sink if sink else "/dev/null", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for case in discover_cases(cases_root):
            ref = read_seg(case)
            assert ref is not None, case.case_id
            mm = spacing(case.images["flair"])
            new = []
            for source, run in runs.items():
                labels, _ = segment(run, case)
                for r in score_arrays(case.case_id, BRATS2020.from_internal(labels), BRATS2020.from_internal(ref),
                                      mm, BRATS2020):
                    new.append({"source": source} | r)
            rows += new
            writer.writerows(new)  # as each case is scored: an interrupted run keeps what it did
            out.flush()
            print(case.case_id, file=sys.stderr, flush=True)
    return rows


def values(rows: list[dict], source: str, region: str, metric: str) -> dict[str, float]:
    """{case: value}; ``single`` is the mean over the fold models of each case."""
    if source != "single":
        return {r["case"]: float(r[metric]) for r in rows if r["source"] == source and r["region"] == region}
    per: dict[str, list[float]] = {}
    for r in rows:
        if r["source"].startswith("fold") and r["region"] == region:
            per.setdefault(r["case"], []).append(float(r[metric]))
    return {c: float(np.mean(v)) for c, v in per.items()}


def report(rows: list[dict], command: str) -> str:
    n = len({r["case"] for r in rows})
    k = len({r["source"] for r in rows if r["source"].startswith("fold")})
    lines = ["# The fold ensemble on held-out cases", "", f"Command: `{command}`; {n} cases none of the models saw; "
             f"`single` = the mean of the {k} fold models' scores per case, `ensemble` = the {k} fold models "
             "averaged, `all` = one model on all the training cases. Δ paired per case (bootstrap 95 % CI, "
             "Wilcoxon p).", "",
             "| region | metric | single | ensemble | all | " + " | ".join(f"Δ {a} − {b}" for a, b in PAIRS) + " |",
             "|---" * (5 + len(PAIRS)) + "|"]
    for region in REGION_NAMES:
        for metric in ("dice", "hd95"):
            by = {s: values(rows, s, region, metric) for s in ("single", "ensemble", "all")}
            deltas = []
            for a, b in PAIRS:
                s = compare(by[a], by[b])
                deltas.append(f"{s['mean_diff']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}] p={s['p']:.3f}")
            means = [np.nanmean(list(by[s].values())) for s in ("single", "ensemble", "all")]
            lines.append(f"| {region} | {metric} | " + " | ".join(f"{m:.3f}" for m in means) + " | "
                         + " | ".join(deltas) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path, help="the fold_ensemble study folder")
    ap.add_argument("all_run", type=Path, help="the run trained on all the study's cases")
    ap.add_argument("--cases", type=Path, required=True, help="held-out cases with their segmentations")
    ap.add_argument("--csv", type=Path)
    ap.add_argument("--from-csv", type=Path)
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.from_csv))) if args.from_csv else \
        case_scores(args.study, args.all_run, args.cases, args.csv)
    print(report(rows, "python " + " ".join(sys.argv)))


if __name__ == "__main__":
    main()
