"""Gather the CV's per-case scores into this folder, and re-score fold models with test-time flips.

    .venv/bin/python studies/cv30/collect.py per-case runs/cv30 recommended_800_poly   # -> per_case.csv
    .venv/bin/python studies/cv30/collect.py tta runs/cv30 recommended_800_poly        # -> per_case_tta.csv

``tta`` runs ``brats-unet evaluate RUN --split test --checkpoint last --set eval.tta=true --out DIR`` on each fold's
run (the checkpoint the study scores; the run folders are not changed) and appends its rows as ``VARIANT_tta``;
``per-case`` appends the study's own scores of the variant. Either replaces that variant's earlier rows.
Rows: variant, fold, case, region and the metric columns below.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path
from typing import Optional

from brats_unet.study.spec import load_study, only, run_dir

HERE = Path(__file__).resolve().parent
COLUMNS = ["variant", "fold", "case", "region", "dice", "iou", "hd95", "sensitivity", "specificity", "precision",
           "mcc", "vol_pred_ml", "vol_ref_ml"]


def fold_rows(variant: str, fold: Optional[int], per_case: Path) -> list[dict]:
    """One fold run's ``per_case.csv`` rows in this folder's columns."""
    with per_case.open() as f:
        return [{"variant": variant, "fold": fold, **{k: r[k] for k in COLUMNS[2:]}} for r in csv.DictReader(f)]


def runs_of(out: Path, variant: str) -> list[tuple[Optional[int], Path]]:
    """(fold, first-seed run folder) of a variant of ``study.yaml``, in fold order; every fold must have finished.
    An unknown name is refused as ``brats-unet study --only`` refuses it."""
    study = only(load_study(HERE / "study.yaml"), [variant])
    chosen = next(v for v in study.variants if v.name == variant)
    runs = [(fold, run_dir(out, chosen, study.seeds[0], fold)) for fold in study.fold_ids]
    missing = [str(r) for _, r in runs if not (r / "eval" / "per_case.csv").is_file()]
    if missing:
        sys.exit(f"{variant}: unfinished fold runs: {', '.join(missing)}")
    return runs


def replace(name: str, rows: list[dict], path: Path) -> None:
    """Rewrite ``path`` with ``name``'s rows replaced by ``rows`` (the other variants' rows kept, in order)."""
    with path.open() as f:
        kept = [r for r in csv.DictReader(f) if r["variant"] != name]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(kept + rows)
    print(f"{path}: {len(rows)} rows of {name}, {len(kept)} of the other variants")


def per_case(out: Path, variant: str) -> None:
    rows = [r for fold, run in runs_of(out, variant) for r in fold_rows(variant, fold, run / "eval" / "per_case.csv")]
    replace(variant, rows, HERE / "per_case.csv")


def tta(out: Path, variant: str, scored: Path) -> None:
    name, rows = f"{variant}_tta", []
    for fold, run in runs_of(out, variant):
        dest = scored / name / f"fold{fold}"
        if not (dest / "per_case.csv").is_file():
            subprocess.run([sys.executable, "-m", "brats_unet", "evaluate", str(run), "--split", "test", "--checkpoint",
                            "last", "--set", "eval.tta=true", "--out", str(dest), "--quiet"], check=True)
        rows += fold_rows(name, fold, dest / "per_case.csv")
    replace(name, rows, HERE / "per_case_tta.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["per-case", "tta"])
    parser.add_argument("out", type=Path, help="the study's --out folder")
    parser.add_argument("variant")
    parser.add_argument("--scored", type=Path, default=Path("runs/cv30_tta"), help="where the flip scores go")
    args = parser.parse_args()
    if args.what == "per-case":
        per_case(args.out, args.variant)
    else:
        tta(args.out, args.variant, args.scored)


if __name__ == "__main__":
    main()
