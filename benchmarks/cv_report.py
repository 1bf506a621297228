"""Report of the cross-validation run by ``cv_recommended.py``: a candidate recipe against the reference.

Pairs the two recipes' last weights case by case over the folds both have finished (bootstrap CI and
Wilcoxon per region, Dice and HD95), checks the issue's targets, and draws time-to-quality curves from the
weights copied at fractions of the budget. Writes report.md, summary.csv, per_case.csv, time_to_quality.png.

Run: .venv/bin/python benchmarks/cv_report.py --out runs/cv --candidate recommended \
         --to benchmarks/studies/cv-recommended
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from brats_unet.atomic_files import write_csv
from brats_unet.study.stats import compare

REGIONS = ("WT", "TC", "ET")
TARGET = {"WT": 0.85, "TC": 0.75, "ET": 0.65}
AHEAD = 0.03


def read_rows(out: Path, recipe: str) -> list[dict]:
    rows = []
    for path in sorted((out / recipe).glob("fold*/per_case.csv")):
        with open(path, newline="") as fh:
            rows += list(csv.DictReader(fh))
    for r in rows:
        for key in ("mark", "minutes", "dice", "hd95", "seconds"):
            r[key] = float(r[key])
        r["fold"], r["steps"] = int(r["fold"]), int(r["steps"])
    return rows


def values(rows: list[dict], region: str, metric: str, mark: float = 1.0) -> dict[str, float]:
    return {r["case"]: r[metric] for r in rows if r["region"] == region and r["mark"] == mark}


def mean_sd(v: dict[str, float]) -> str:
    a = np.array(list(v.values()), float)
    return f"{a.mean():.3f} ± {a.std(ddof=1):.3f}" if len(a) > 1 else (f"{a.mean():.3f}" if len(a) else "–")


def results_table(rows: dict[str, list[dict]]) -> list[str]:
    head = "| recipe | cases | " + " | ".join(f"{r} Dice | {r} HD95 (mm)" for r in REGIONS) + " |"
    lines = [head, "|---|---|" + "---|---|" * len(REGIONS)]
    for name, rs in rows.items():
        cells = [f"{mean_sd(values(rs, reg, 'dice'))} | {mean_sd(values(rs, reg, 'hd95'))}" for reg in REGIONS]
        lines.append(f"| {name} | {len(values(rs, 'WT', 'dice'))} | " + " | ".join(cells) + " |")
    return lines


def paired_table(cand: list[dict], ref: list[dict]) -> tuple[list[str], dict]:
    lines = ["| region | Δ Dice [95 % CI] | p (Wilcoxon) | Δ HD95 mm [95 % CI] | p (Wilcoxon) |",
             "|---|---|---|---|---|"]
    out = {}
    for reg in REGIONS:
        d = compare(values(cand, reg, "dice"), values(ref, reg, "dice"))
        h = compare(values(cand, reg, "hd95"), values(ref, reg, "hd95"))
        out[reg] = (d, h)
        lines.append(f"| {reg} | {d['mean_diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] | {d['p']:.3f} | "
                     f"{h['mean_diff']:+.1f} [{h['ci_low']:+.1f}, {h['ci_high']:+.1f}] | {h['p']:.3f} |")
    return lines, out


def targets(cand: list[dict], ref: list[dict], paired: dict) -> list[str]:
    lines = []
    for reg in REGIONS:
        mean = np.mean(list(values(cand, reg, "dice").values()))
        d, h = paired[reg]
        met = "met" if mean >= TARGET[reg] else "NOT met"
        lines.append(f"- {reg}: Dice {mean:.3f} (target ≥ {TARGET[reg]:.2f}: {met})"
                     f"; ahead of the reference by {d['mean_diff']:+.3f} (≥ +{AHEAD:.2f}: "
                     f"{'met' if d['mean_diff'] >= AHEAD else 'NOT met'}); HD95 {h['mean_diff']:+.1f} mm "
                     f"({'no worse' if h['mean_diff'] <= 0 else 'WORSE'})")
    return lines


def curve_rows(rows: dict[str, list[dict]]) -> list[dict]:
    out = []
    for name, rs in rows.items():
        for mark in sorted({r["mark"] for r in rs}):
            at = [r for r in rs if r["mark"] == mark]
            row = {"recipe": name, "mark": mark, "minutes": at[0]["minutes"],
                   "cases": len(values(rs, "WT", "dice", mark))}
            for reg in REGIONS:
                row[f"{reg}_dice"] = float(np.mean(list(values(rs, reg, "dice", mark).values())))
                row[f"{reg}_hd95"] = float(np.mean(list(values(rs, reg, "hd95", mark).values())))
            out.append(row)
    return out


def plot(curves: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, reg in zip(axes, REGIONS):
        for name in dict.fromkeys(c["recipe"] for c in curves):
            pts = [c for c in curves if c["recipe"] == name]
            ax.plot([c["minutes"] for c in pts], [c[f"{reg}_dice"] for c in pts], marker="o", label=name)
        ax.axhline(TARGET[reg], color="grey", ls=":", lw=1)
        ax.set(title=f"{reg} Dice (test cases of the folds)", xlabel="training minutes (2 CPU cores)")
    axes[0].set_ylabel("mean Dice")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def throughput(rows: dict[str, list[dict]]) -> list[str]:
    lines = ["| recipe | fold | steps | slices/s | minutes | device |", "|---|---|---|---|---|---|"]
    for name, rs in rows.items():
        for fold in sorted({r["fold"] for r in rs}):
            last = next(r for r in rs if r["fold"] == fold and r["mark"] == 1.0)
            rate = 16 * last["steps"] / last["seconds"]  # batch 16 in every recipe here
            lines.append(f"| {name} | {fold} | {last['steps']} | {rate:.1f} | {last['seconds'] / 60:.1f} | "
                         f"{last['device']} |")
    return lines


def machines(rows: dict[str, list[dict]]) -> list[str]:
    """Where each recipe trained, and a warning when that differs: a wall-clock budget on a CPU without native
    bf16 buys 3-5x fewer steps than on one with it, so such a comparison says nothing about the recipes. Folds on
    different machines, each fold with every recipe on one machine, keep the paired differences fair."""
    where = {name: sorted({r.get("machine") or "not recorded" for r in rs}) for name, rs in rows.items()}
    said = "; ".join(f"{name}: {' / '.join(w)}" for name, w in where.items())
    lines = [f"Trained on: {said}.", ""]
    per_fold: dict[int, set] = {}
    for rs in rows.values():
        for r in rs:
            per_fold.setdefault(r["fold"], set()).add(r.get("machine") or "not recorded")
    if any(len(m) > 1 for m in per_fold.values()):
        lines += ["**Warning: within a fold the recipes trained on different machines; under wall-clock budgets their "
                  "scores are not comparable.**", ""]
    elif len({m for ms in per_fold.values() for m in ms}) > 1:
        lines += ["Note: folds ran on different machines, " + "; ".join(
            f"fold {f}: {' / '.join(sorted(m))}" for f, m in sorted(per_fold.items())) + ". Within each fold every "
            "recipe trained on the same machine, so the paired differences compare like with like; the budgets "
            "(steps in 20 minutes) differ between folds.", ""]
    return lines


def post_note(rows: dict[str, list[dict]]) -> str:
    """How the report's recipes were post-processed: the runner's ``<recipe>-pp`` rows are, the others not."""
    pp = [name for name in rows if name.endswith("-pp")]
    if not pp:
        return "no post-processing."
    return (f"{', '.join(f'`{n}`' for n in pp)}: post-processed as `predict` does (the choice made on the fold's "
            "validation case); the others: no post-processing.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/cv")
    ap.add_argument("--candidate", nargs="+", default=["recommended"], help="the first is checked against the targets")
    ap.add_argument("--reference", default="reference")
    ap.add_argument("--pairs", nargs="*", default=[], metavar="A:B",
                    help="further paired comparisons A − B among the recipes read (e.g. base16w-pp:reference-pp)")
    ap.add_argument("--to", default="benchmarks/studies/cv-recommended")
    ap.add_argument("--title", default=None)
    ap.add_argument("--note", default="", help="a paragraph under the title (how and where it ran)")
    args = ap.parse_args()
    out, to = Path(args.out), Path(args.to)
    if any(p.count(":") != 1 for p in args.pairs):
        ap.error(f"--pairs takes A:B, got {args.pairs}")
    pairs = [tuple(p.split(":")) for p in args.pairs]
    names = dict.fromkeys([*args.candidate, args.reference, *(n for p in pairs for n in p)])
    rows = {name: read_rows(out, name) for name in names}
    folds = sorted(set.intersection(*({r["fold"] for r in rs} for rs in rows.values())))
    rows = {name: [r for r in rs if r["fold"] in folds] for name, rs in rows.items()}
    ref, first = rows[args.reference], rows[args.candidate[0]]
    to.mkdir(parents=True, exist_ok=True)
    curves = curve_rows(rows)
    write_csv(curves, to / "summary.csv")
    write_csv([r for rs in rows.values() for r in rs], to / "per_case.csv")
    plot(curves, to / "time_to_quality.png")
    n = len(values(first, "WT", "dice"))
    text = [f"# {args.title or f'Cross-validation: `{args.candidate[0]}` against the MONAI-style reference'}", "",
            *([args.note, ""] if args.note else []), *machines(rows),
            f"Folds finished by every recipe: {folds} of 0..3 ({n} paired test cases; splits "
            "`benchmarks/splits/cv4-fold*.json`). Last weights, original geometry; " + post_note(rows), "",
            "## Test cases of the folds (mean ± sd over cases)", "", *results_table(rows), ""]
    for name, other in [*((c, args.reference) for c in args.candidate), *pairs]:
        lines, paired = paired_table(rows[name], rows[other])
        text += [f"## Paired differences ({name} − {other})", "",
                 "Mean over cases with a bootstrap 95 % CI (10,000 resamples) and the two-sided Wilcoxon signed-rank "
                 "p-value. HD95: lower is better, so a negative Δ favours the candidate.", "", *lines, ""]
        if name == args.candidate[0] and other == args.reference:
            text += ["### Targets (issue 13)", "", *targets(first, ref, paired), ""]
    text += ["## Time to quality", "", "![time to quality](time_to_quality.png)", "",
             "| recipe | minutes | cases | WT Dice | TC Dice | ET Dice |", "|---|---|---|---|---|---|",
             *[f"| {c['recipe']} | {c['minutes']:.1f} | {c['cases']} | {c['WT_dice']:.3f} | {c['TC_dice']:.3f} | "
               f"{c['ET_dice']:.3f} |" for c in curves], "",
             "## Training per fold", "", *throughput(rows), ""]
    (to / "report.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
