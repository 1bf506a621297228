"""Where the cross-validation's Dice goes: issue 13's shortfall, case by case, and what 16 cases can resolve.

Reads the per-case rows that ``cv_recommended.py`` recorded (last weights of each fold) for several runs and
writes one markdown page with five answers:

1. How far every recipe tried is from the targets (.85 / .75 / .65 Dice WT / TC / ET).
2. Which cases the shortfall comes from: the cases sorted by their reference enhancing-tumour volume, each
   recipe's Dice, and the mean Dice the small-ET cases (reference ET < ``--small-et`` ml) would need, the other
   cases unchanged, for the 16-case mean to reach the target.
3. Whether the recipes under- or over-segment: predicted / reference volume, sensitivity against precision.
4. How large a paired lead 16 cases resolve: from the sd of the per-case differences of each pair, the 95 %
   bootstrap CI's half-width, and the cases a +.03 lead would need to be found 80 % of the time at two-sided
   α = .05 (normal approximation, n = ((1.96 + 0.84) · sd / .03)²).
5. Whether more training moves the means: mean Dice at each budget mark the runs recorded, with the steps.

Run (each --runs entry LABEL=FOLDER, the folder holding that recipe's foldK/per_case.csv):
  .venv/bin/python benchmarks/cv_errors.py --candidate base16w --reference reference \
      --runs base16w=benchmarks/studies/cv-recommended-bf16/folds/base16w \
             reference=benchmarks/studies/cv-recommended-bf16/folds/reference ... \
      --pairs base16w:reference --to benchmarks/studies/cv-recommended-bf16/errors.md
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from brats_unet.study.stats import bootstrap_ci
from cv_report import AHEAD, REGIONS, TARGET, read_rows, values

Z_POWER = 1.96 + 0.84  # two-sided α = .05 and 80 % power, normal approximation


def needed(dice: dict[str, float], hard: set[str], target: float) -> float:
    """Mean Dice the ``hard`` cases would need, the others unchanged, for the mean over all cases to be ``target``."""
    inside = [c for c in dice if c in hard]
    rest = sum(v for c, v in dice.items() if c not in hard)
    return (target * len(dice) - rest) / len(inside)


def recipes_table(runs: dict[str, list[dict]]) -> list[str]:
    lines = ["| run | cases | " + " | ".join(f"{r} Dice (gap)" for r in REGIONS) + " |", "|---|---|---|---|---|"]
    for name, rows in runs.items():
        cells = []
        for reg in REGIONS:
            m = float(np.mean(list(values(rows, reg, "dice").values())))
            cells.append(f"{m:.3f} ({m - TARGET[reg]:+.3f})")
        lines.append(f"| {name} | {len(values(rows, 'WT', 'dice'))} | " + " | ".join(cells) + " |")
    return lines


def cases_table(runs: dict[str, list[dict]], order: list[str], vol: dict[str, dict[str, float]]) -> list[str]:
    names = list(runs)
    head = "| case | ET / TC / WT ml | " + " | ".join(f"{n} WT / TC / ET" for n in names) + " |"
    lines = [head, "|---|---|" + "---|" * len(names)]
    dice = {n: [values(runs[n], reg, "dice") for reg in REGIONS] for n in names}
    for case in order:
        cells = [" / ".join("–" if case not in d else f"{d[case]:.2f}" for d in dice[n]) for n in names]
        v = vol[case]
        lines.append(f"| {case} | {v['ET']:.1f} / {v['TC']:.1f} / {v['WT']:.1f} | " + " | ".join(cells) + " |")
    return lines


def groups_table(runs: dict[str, list[dict]], hard: set[str]) -> list[str]:
    lines = ["| run | cases | " + " | ".join(f"{r} Dice" for r in REGIONS)
             + " | small-ET cases would need (WT / TC / ET) |", "|---|---|---|---|---|---|"]
    for name, rows in runs.items():
        dice = {reg: values(rows, reg, "dice") for reg in REGIONS}
        for label, keep in (("small ET", True), ("the others", False)):
            cases = [c for c in dice["WT"] if (c in hard) == keep]
            if not cases:
                continue
            means = [np.mean([dice[reg][c] for c in cases]) for reg in REGIONS]
            need = " / ".join(f"{needed(dice[reg], hard, TARGET[reg]):.2f}" for reg in REGIONS) if keep else ""
            lines.append(f"| {name}: {label} | {len(cases)} | " + " | ".join(f"{m:.3f}" for m in means)
                         + f" | {need} |")
    return lines


def volume_table(runs: dict[str, list[dict]]) -> list[str]:
    lines = ["| run | region | median predicted / reference volume | mean sensitivity | mean precision |",
             "|---|---|---|---|---|"]
    for name, rows in runs.items():
        for reg in REGIONS:
            rs = [r for r in rows if r["region"] == reg and r["mark"] == 1.0]
            ratio = np.median([float(r["vol_pred_ml"]) / float(r["vol_ref_ml"]) for r in rs])
            sens = np.mean([float(r["sensitivity"]) for r in rs])
            prec = np.nanmean([float(r["precision"]) if r["precision"] not in ("", "nan") else np.nan for r in rs])
            lines.append(f"| {name} | {reg} | {ratio:.2f} | {sens:.3f} | {prec:.3f} |")
    return lines


def resolution_table(runs: dict[str, list[dict]], pairs: list[tuple[str, str]]) -> list[str]:
    lines = ["| pair A − B | region | mean Δ Dice | sd of Δ | 95 % CI half-width | cases for a +.03 lead |",
             "|---|---|---|---|---|---|"]
    for a, b in pairs:
        for reg in REGIONS:
            va, vb = values(runs[a], reg, "dice"), values(runs[b], reg, "dice")
            diff = np.array([va[c] - vb[c] for c in sorted(set(va) & set(vb))])
            lo, hi = bootstrap_ci(diff)
            sd = float(diff.std(ddof=1))
            lines.append(f"| {a} − {b} | {reg} | {diff.mean():+.3f} | {sd:.3f} | {(hi - lo) / 2:.3f} | "
                         f"{int(np.ceil((Z_POWER * sd / AHEAD) ** 2))} |")
    return lines


def compute_table(runs: dict[str, list[dict]]) -> list[str]:
    """Mean Dice at each budget mark the runs recorded, with the median steps taken by then: does more training
    move the means?"""
    lines = ["| run | budget fraction | median steps | " + " | ".join(f"{r} Dice" for r in REGIONS) + " |",
             "|---|---|---|---|---|---|"]
    for name, rows in runs.items():
        for mark in sorted({r["mark"] for r in rows}):
            steps = np.median([r["steps"] for r in rows if r["mark"] == mark and r["region"] == "WT"])
            means = [np.mean(list(values(rows, reg, "dice", mark).values())) for reg in REGIONS]
            lines.append(f"| {name} | {mark:g} | {steps:.0f} | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True, metavar="LABEL=FOLDER")
    ap.add_argument("--candidate", required=True, help="the label whose shortfall is split by case")
    ap.add_argument("--reference", required=True, help="the label whose rows give the reference volumes")
    ap.add_argument("--pairs", nargs="*", default=[], metavar="A:B")
    ap.add_argument("--small-et", type=float, default=5.0,
                    help="reference ET volume (ml) below which a case is 'small ET'")
    ap.add_argument("--show", nargs="*", default=None, metavar="LABEL",
                    help="runs in the per-case tables (default: candidate and reference)")
    ap.add_argument("--note", default="")
    ap.add_argument("--to", required=True)
    args = ap.parse_args()
    if any("=" not in r for r in args.runs) or any(p.count(":") != 1 for p in args.pairs):
        ap.error("--runs takes LABEL=FOLDER and --pairs A:B")
    runs = {}  # every mark's rows: the tables take the last weights' (mark 1.0), compute_table every mark's
    for spec in args.runs:
        label, folder = spec.split("=", 1)
        runs[label] = read_rows(Path(folder).parent, Path(folder).name)
    for name in (args.candidate, args.reference, *(args.show or []), *(n for p in args.pairs for n in p.split(":"))):
        if name not in runs:
            ap.error(f"{name!r} is not one of the --runs labels {sorted(runs)}")
    vol = {}
    for r in (r for r in runs[args.reference] if r["mark"] == 1.0):
        vol.setdefault(r["case"], {})[r["region"]] = float(r["vol_ref_ml"])
    order = sorted(vol, key=lambda c: vol[c]["ET"])
    hard = {c for c in order if vol[c]["ET"] < args.small_et}
    shown = {n: runs[n] for n in (args.show or [args.candidate, args.reference])}
    pairs = [(a, b) for a, b in (p.split(":") for p in args.pairs)]
    text = ["# Where the cross-validation's Dice goes (issue 13)", "", *([args.note, ""] if args.note else []),
            "Last weights of each fold; Dice per case and region as in the cross-validation reports. Command: "
            f"`.venv/bin/python benchmarks/cv_errors.py {shlex.join(sys.argv[1:])}`", "",
            "## 1. Every run against the targets (gap = mean − target)", "", *recipes_table(runs), "",
            "## 2. The cases, by reference enhancing-tumour volume", "", *cases_table(shown, order, vol), "",
            f"Small ET = reference ET < {args.small_et:g} ml ({len(hard)} of {len(order)} cases). The last column: the "
            f"mean Dice those cases would need, every other case unchanged, for the {len(order)}-case mean to reach "
            "the target (above 1.00: out of reach even with perfect small-ET cases).", "",
            *groups_table(shown, hard), "",
            "## 3. Under- or over-segmentation", "", *volume_table(runs), "",
            f"## 4. What {len(order)} paired cases resolve", "", *resolution_table(runs, pairs), "",
            "## 5. More training", "", "The weights each fold copied at fractions of its budget (the time-to-quality "
            "marks), and the same recipes on machines that gave them fewer or more steps in 20 minutes.", "",
            *compute_table(runs), ""]
    Path(args.to).write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
