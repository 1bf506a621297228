"""Paired comparison of any two variants of the CV from ``per_case.csv`` (the study report compares every variant
with one baseline only): per region, both means, the difference with its bootstrap 95 % CI, the Wilcoxon p and
the smallest lead these paired cases resolve, and how many paired cases a lead of ``--lead`` (Dice; ``--lead-mm``
for HD95) would need with this spread, for Dice and HD95, with the package's own statistics.

    .venv/bin/python studies/cv30/paired.py recommended_800 reference_800
    .venv/bin/python studies/cv30/paired.py recommended_800 recommended_800_tta --csv studies/cv30/per_case_tta.csv
    .venv/bin/python studies/cv30/paired.py recommended_800,recommended_800_fp32 reference_800,reference_800_fp32

A comma joins runs of one recipe (other seeds, machines or precisions): each case's scores averaged over them, as
the study report averages seeds, so the pair compares recipes rather than single runs.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from brats_unet.brats import REGION_NAMES
from brats_unet.study.stats import compare

HERE = Path(__file__).resolve().parent


def scores(rows: list[dict], variant: str, region: str, metric: str) -> dict[str, float]:
    """{case: value} of one variant, region and metric (each case once: it is tested in one fold); for runs
    joined by commas, the mean over the runs of each case they all scored (NaN where one run's value is NaN)."""
    runs = [{r["case"]: float(r[metric]) for r in rows if r["variant"] == name and r["region"] == region}
            for name in variant.split(",")]
    if not all(runs):
        return {}
    return {case: sum(run[case] for run in runs) / len(runs) for case in sorted(set.intersection(*map(set, runs)))}


def table(rows: list[dict], a: str, b: str, lead: float = 0.03, lead_mm: float = 2.0) -> list[str]:
    """Markdown rows: ``a`` against ``b`` per region and metric."""
    plan = f"cases for ±{lead:g} / ±{lead_mm:g} mm"
    out = [f"| {a} − {b} | n | {a} | {b} | Δ [95 % CI] | Wilcoxon p | resolves ± | {plan} |",
           "|---|---|---|---|---|---|---|---|"]
    for metric in ("dice", "hd95"):
        for region in REGION_NAMES:
            va, vb = scores(rows, a, region, metric), scores(rows, b, region, metric)
            if not va or not vb:
                raise SystemExit(f"no {region} {metric} rows for {a if not va else b}; variants: "
                                 f"{sorted({r['variant'] for r in rows})}")
            c = compare(va, vb, lead if metric == "dice" else lead_mm)
            common = sorted(set(va) & set(vb))
            mean_a = sum(va[k] for k in common) / len(common)
            mean_b = sum(vb[k] for k in common) / len(common)
            out.append(f"| {region} {metric} | {c['n']} | {mean_a:.3f} | {mean_b:.3f} | {c['mean_diff']:+.3f} "
                       f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] | {c['p']:.3f} | {c['resolvable']:.3f} | "
                       f"{c['cases_needed']} |")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--csv", action="append", default=None, help="per-case CSVs (default: this folder's per_case.csv)")
    p.add_argument("--lead", type=float, default=0.03, help="Dice lead to plan for (paired cases it needs)")
    p.add_argument("--lead-mm", type=float, default=2.0, help="HD95 lead in mm to plan for")
    args = p.parse_args()
    rows: list[dict] = []
    for path in args.csv or [str(HERE / "per_case.csv")]:
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    print("\n".join(table(rows, args.a, args.b, args.lead, args.lead_mm)))


if __name__ == "__main__":
    main()
