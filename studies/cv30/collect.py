"""Gather the CV's per-case scores into this folder, and re-score fold models with test-time flips or as ensembles.

    .venv/bin/python studies/cv30/collect.py per-case runs/cv30 recommended_800_poly   # -> per_case.csv
    .venv/bin/python studies/cv30/collect.py per-case runs/cv30 recommended_800_fp32 --seed 1   # as NAME_seed1
    .venv/bin/python studies/cv30/collect.py tta runs/cv30 recommended_800_poly        # -> per_case_tta.csv
    .venv/bin/python studies/cv30/collect.py ensemble runs/cv30 recommended_800 reference_800

``tta`` runs ``brats-unet evaluate RUN --split test --checkpoint last --set eval.tta=true --out DIR`` on each fold's
run (the checkpoint the study scores; the run folders are not changed) and appends its rows as ``VARIANT_tta``;
``per-case`` appends the study's own scores of the variant (of its first seed; ``--seed K`` another seed's runs,
as ``VARIANT_seedK``, so that ``paired.py`` can pair two runs of one variant). ``ensemble`` averages the
probabilities of each fold's runs of the variants named (``predict RUN RUN ...``, with the post-processing chosen
on the members' pooled validation cases, as ``predict`` applies it) on that fold's test cases and appends them to
``per_case_ensemble.csv`` as ``A+B``; a fold's scores are kept in ``--scored``, so that a stopped run resumes. The
5 folds themselves cannot be the ensemble: four of them trained on each case. Each command replaces that variant's
earlier rows.
Rows: variant, fold, case, region and the metric columns below.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Optional

from brats_unet.atomic_files import write_csv
from brats_unet.study.spec import load_study, only, run_dir

HERE = Path(__file__).resolve().parent
COLUMNS = ["variant", "fold", "case", "region", "dice", "iou", "hd95", "sensitivity", "specificity", "precision",
           "mcc", "vol_pred_ml", "vol_ref_ml"]


def fold_rows(variant: str, fold: Optional[int], per_case: Path) -> list[dict]:
    """One fold run's ``per_case.csv`` rows in this folder's columns."""
    with per_case.open() as f:
        return [{"variant": variant, "fold": fold, **{k: r[k] for k in COLUMNS[2:]}} for r in csv.DictReader(f)]


def runs_of(out: Path, variant: str, seed: Optional[int] = None) -> list[tuple[Optional[int], Path]]:
    """(fold, run folder of ``seed``, by default the study's first) of a variant of ``study.yaml``, in fold order;
    every fold must have finished. An unknown name is refused as ``brats-unet study --only`` refuses it."""
    study = only(load_study(HERE / "study.yaml"), [variant])
    chosen = next(v for v in study.variants if v.name == variant)
    seed = study.seeds[0] if seed is None else seed
    runs = [(fold, run_dir(out, chosen, seed, fold)) for fold in study.fold_ids]
    missing = [str(r) for _, r in runs if not (r / "eval" / "per_case.csv").is_file()]
    if missing:
        sys.exit(f"{variant}: unfinished fold runs: {', '.join(missing)}")
    return runs


def replace(name: str, rows: list[dict], path: Path) -> None:
    """Rewrite ``path`` with ``name``'s rows replaced by ``rows`` (the other variants' rows kept, in order)."""
    kept = []
    if path.is_file():
        with path.open() as f:
            kept = [r for r in csv.DictReader(f) if r["variant"] != name]
    write_csv(kept + rows, path, COLUMNS)
    print(f"{path}: {len(rows)} rows of {name}, {len(kept)} of the other variants")


def per_case(out: Path, variant: str, seed: Optional[int] = None) -> None:
    name = variant if seed is None else f"{variant}_seed{seed}"
    rows = [r for fold, run in runs_of(out, variant, seed)
            for r in fold_rows(name, fold, run / "eval" / "per_case.csv")]
    replace(name, rows, HERE / "per_case.csv")


def tta(out: Path, variant: str, scored: Path) -> None:
    name, rows = f"{variant}_tta", []
    for fold, run in runs_of(out, variant):
        dest = scored / name / f"fold{fold}"
        if not (dest / "per_case.csv").is_file():
            subprocess.run([sys.executable, "-m", "brats_unet", "evaluate", str(run), "--split", "test", "--checkpoint",
                            "last", "--set", "eval.tta=true", "--out", str(dest), "--quiet"], check=True)
        rows += fold_rows(name, fold, dest / "per_case.csv")
    replace(name, rows, HERE / "per_case_tta.csv")


def ensemble(out: Path, variants: list[str], scored: Path, roots: list[Path], tta_: bool) -> None:
    name = "+".join(variants) + ("_tta" if tta_ else "")
    members = [runs_of(out, v) for v in variants]
    rows: list[dict] = []
    for fold_runs in zip(*members):
        fold = fold_runs[0][0]
        dest = scored / name / f"fold{fold}.csv"
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            ensemble_fold(name, fold, [run for _, run in fold_runs], roots, tta_, dest)
        with dest.open() as f:
            rows += list(csv.DictReader(f))
    replace(name, rows, HERE / "per_case_ensemble.csv")


def ensemble_fold(name: str, fold: Optional[int], runs: list[Path], roots: list[Path], tta_: bool,
                  dest: Path) -> None:
    """Score one fold's test cases with the averaged runs into ``dest`` (written whole at the end)."""
    from errors import load_case  # this folder's case loader (images, reference, affine, spacing)

    import brats_unet as bu

    loaded = bu.load_runs(runs, checkpoint="last")
    print(f"fold {fold}: {loaded.postprocess_note}", file=sys.stderr)
    rows = []
    for case in json.loads((runs[0] / "split.json").read_text())["test"]:
        root = next((r for r in roots if (r / case).is_dir()), None)
        if root is None:
            sys.exit(f"{case}: in none of {', '.join(map(str, roots))}; give the study's roots with --data")
        images, ref, affine, spacing = load_case(root, case)
        labels = bu.predict_arrays(loaded, images, affine, tta=tta_, case_id=case)
        scores = bu.score(labels, ref, spacing)
        rows += [{"variant": name, "fold": fold, "case": case, "region": region,
                  **{k: s[k] for k in COLUMNS[4:]}} for region, s in scores.items()]
        print(f"fold {fold} {case}: " + " ".join(f"{r} {s['dice']:.3f}" for r, s in scores.items()), file=sys.stderr)
    write_csv(rows, dest, COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["per-case", "tta", "ensemble"])
    parser.add_argument("out", type=Path, help="the study's --out folder")
    parser.add_argument("variant", nargs="+", help="one variant; several for ensemble")
    parser.add_argument("--scored", type=Path, help="where the flip or ensemble scores go (default: runs/cv30_tta, "
                        "runs/cv30_ensemble)")
    parser.add_argument("--data", type=Path, action="append", help="the study's data roots (ensemble; default: "
                        "../shared/data/brats2018-sample and brats2018-extra)")
    parser.add_argument("--tta", action="store_true", help="ensemble: with the 4 in-plane flips as well")
    parser.add_argument("--seed", type=int, help="per-case: another seed's runs of the variant, as VARIANT_seedK")
    args = parser.parse_args()
    if args.what != "ensemble" and len(args.variant) != 1:
        parser.error(f"{args.what} takes one variant")
    if args.what == "per-case":
        per_case(args.out, args.variant[0], args.seed)
    elif args.what == "tta":
        tta(args.out, args.variant[0], args.scored or Path("runs/cv30_tta"))
    else:
        roots = args.data or [Path("../shared/data/brats2018-sample"), Path("../shared/data/brats2018-extra")]
        ensemble(args.out, args.variant, args.scored or Path("runs/cv30_ensemble"), roots, args.tta)


if __name__ == "__main__":
    main()
