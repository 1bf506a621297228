"""Post-processing with and without, chosen on cases it is then not scored on (issue 12, item 6).

Evidence design on the 16-case sample: the model runs are the folds of a patient-level cross-validation
(``brats-unet train --fold K``), so each case is predicted once by a model that never saw it (out-of-fold).
The post-processing is then chosen leave-cases-out: the cases are cut into ``--groups`` groups, and each
group is scored with the setting chosen on the other groups' validation Dice only (as ``evaluate`` chooses
on a run's validation split). Dice and HD95 per region per case, with and without, paired: mean difference,
bootstrap 95 % CI, Wilcoxon p and how many cases got better / worse.

Run (two folds of the paper recipe as our defaults run it, 6 epochs each, then this script):
    for k in 0 1; do .venv/bin/brats-unet train --data ../shared/data/brats2018-sample --out runs/pp/fold$k \\
        --fold $k --set data.folds=2 "data.split_fractions=[1.0,0.0,0.0]" train.epochs=6 train.val_max_cases=2; done
    .venv/bin/python studies/postprocess/compare.py runs/pp/fold0 runs/pp/fold1
"""

from __future__ import annotations

import argparse

import numpy as np

from brats_unet.brats import BRATS2023, REGION_NAMES
from brats_unet.data.discovery import discover_cases
from brats_unet.data.volumes import read_seg, spacing
from brats_unet.evaluation.scoring import score_arrays
from brats_unet.infer.postprocess import apply, choose, dice_table
from brats_unet.infer.predict import load_run, segment
from brats_unet.runs.folder import data_root_of, read_split
from brats_unet.study.stats import compare


def out_of_fold(run_dirs: list[str]) -> dict[str, tuple]:
    """{case: (raw internal labels, reference, spacing)} from each fold run on its own validation cases."""
    found = {}
    for run_dir in run_dirs:
        run, root = load_run(run_dir), data_root_of(run_dir)
        val = set(read_split(run_dir)["val"])
        for case in discover_cases(root):
            if case.case_id in val:
                found[case.case_id] = (segment(run, case, postprocess=False)[0], read_seg(case),
                                       spacing(case.images[run.cfg.data.modalities[0]]))
    return found


def scores(case_id: str, labels: np.ndarray, ref: np.ndarray, mm) -> dict[str, dict[str, float]]:
    rows = score_arrays(case_id, labels, ref, mm, BRATS2023, "brats2020")
    return {r["region"]: r for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="the fold runs of one cross-validation")
    ap.add_argument("--groups", type=int, default=4)
    args = ap.parse_args()
    cases = out_of_fold(args.runs)
    ids = sorted(cases)
    tables = {c: dice_table(cases[c][0], cases[c][1]) for c in ids}
    groups = np.array_split(np.random.default_rng(0).permutation(ids), args.groups)
    without: dict[str, dict] = {}
    with_: dict[str, dict] = {}
    print(f"{len(ids)} out-of-fold cases from {len(args.runs)} fold runs; {args.groups} leave-cases-out groups\n")
    for g, group in enumerate(groups):
        chosen, before, after = choose({c: t for c, t in tables.items() if c not in set(group)})
        print(f"group {g + 1} ({', '.join(sorted(group))}): chosen on the other {len(ids) - len(group)} cases: "
              f"{chosen.describe()} (their mean Dice {before:.4f} -> {after:.4f})")
        for c in group:
            labels, ref, mm = cases[c]
            without[c] = scores(c, labels, ref, mm)
            with_[c] = scores(c, apply(labels, chosen), ref, mm)
    print("\n| region | metric | without | with | mean diff [95 % CI] | Wilcoxon p | better / worse / same |")
    print("|---|---|---|---|---|---|---|")
    for region in REGION_NAMES:
        for metric in ("dice", "hd95"):
            a = {c: float(without[c][region][metric]) for c in ids}
            b = {c: float(with_[c][region][metric]) for c in ids}
            s = compare(b, a)
            diff = np.array([b[c] - a[c] for c in ids])
            good = diff > 0 if metric == "dice" else diff < 0
            bad = diff < 0 if metric == "dice" else diff > 0
            print(f"| {region} | {metric} | {np.nanmean(list(a.values())):.4f} | {np.nanmean(list(b.values())):.4f} | "
                  f"{s['mean_diff']:+.4f} [{s['ci_low']:+.4f}, {s['ci_high']:+.4f}] | {s['p']:.3f} | "
                  f"{int(good.sum())} / {int(bad.sum())} / {int((diff == 0).sum())} |")
    print("\nper case (Dice WT/TC/ET, HD95 WT/TC/ET; without -> with):")
    for c in ids:
        d = "/".join(f"{without[c][r]['dice']:.3f}->{with_[c][r]['dice']:.3f}" for r in REGION_NAMES)
        h = "/".join(f"{without[c][r]['hd95']:.1f}->{with_[c][r]['hd95']:.1f}" for r in REGION_NAMES)
        print(f"  {c}: Dice {d}; HD95 {h}")
    overall, before, after = choose(tables)
    print(f"\nfor reference, chosen on all {len(ids)} cases (in-sample): {overall.describe()} "
          f"(mean Dice {before:.4f} -> {after:.4f})")


if __name__ == "__main__":
    main()
