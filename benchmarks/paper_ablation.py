"""Does the paper's conclusion hold here? "No modification moved pixel accuracy by more than 0.5 %."

Reads a finished `brats-unet study studies/paper.yaml` folder (12 variants: activation x dropout x
normalisation) and compares every variant with the paper's model (ReLU, dropout 0.2 at the bottleneck, no
normalisation) on the same test cases, paired per case:

* pixel accuracy as the paper counts it (4 classes with background, model-space slices), pooled over the
  test split and per case, recomputed here from each run's checkpoint on the cached test slices;
* BraTS region Dice (WT, TC, ET) at the original geometry, from the study's `eval/per_case.csv`.

Per variant: the change in pooled accuracy, the mean paired change per case with a bootstrap 95 % CI and
the Wilcoxon p, and the same for region Dice. Prints markdown.

Run: .venv/bin/python benchmarks/paper_ablation.py STUDY_DIR [--checkpoint last]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from brats_unet.brats import REGION_NAMES
from brats_unet.data.cache import prepare_cache
from brats_unet.evaluation.cached_cases import evaluate_cached
from brats_unet.infer.predict import load_run
from brats_unet.runs.folder import data_root_of, read_split
from brats_unet.study.stats import compare

BASELINE = "activation-relu_dropout-bottleneck0.2_norm-none"


def accuracies(run_dir: Path, checkpoint: str) -> tuple[float, dict[str, float]]:
    """(pooled test pixel accuracy, {case: pixel accuracy}) of one run on its test split's cached slices."""
    run = load_run(run_dir, checkpoint)
    test = read_split(run_dir)["test"]
    cache = prepare_cache(data_root_of(run_dir), run.cfg.data, progress=False, multiple=run.cfg.model.multiple,
                          only=set(test))
    per_case = {c: evaluate_cached(run.model, cache, [c], run.cfg, run.device, run.precision)["accuracy"] for c in test}
    sizes = {cache.image(c).shape for c in test}
    assert len(sizes) == 1, sizes  # equal pixel counts per case: the pooled accuracy is the mean of the cases'
    return float(np.mean(list(per_case.values()))), per_case


def region_dice(run_dir: Path) -> dict[str, dict[str, float]]:
    """{region: {case: Dice}} from the study's evaluation."""
    out: dict[str, dict[str, float]] = {r: {} for r in REGION_NAMES}
    with open(run_dir / "eval" / "per_case.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["region"] in out:
                out[row["region"]][row["case"]] = float(row["dice"])
    return out


def fmt(s: dict, scale: float = 1.0, digits: int = 3) -> str:
    return (f"{scale * s['mean_diff']:+.{digits}f} [{scale * s['ci_low']:+.{digits}f}, "
            f"{scale * s['ci_high']:+.{digits}f}], p = {s['p']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=Path)
    ap.add_argument("--checkpoint", default="last")
    args = ap.parse_args()
    done = [p for p in sorted((args.study / "runs").glob("*/seed0")) if (p / "eval" / "per_case.csv").exists()]
    runs = {p.parent.name: p for p in done}  # evaluated variants (a study still running has more to come)
    acc = {name: accuracies(path, args.checkpoint) for name, path in runs.items()}
    dice = {name: region_dice(path) for name, path in runs.items()}
    base_pooled, base_cases = acc[BASELINE]
    n = len(base_cases)
    print(f"{len(runs)} variants, {n} paired test cases; baseline `{BASELINE}` (the paper's model), "
          f"pooled test pixel accuracy {100 * base_pooled:.2f} %\n")
    print("| variant | pixel acc. (pooled) | Δ pooled (pp) | Δ per case (pp) [95 % CI], p | "
          + " | ".join(f"Δ {r} Dice [95 % CI], p" for r in REGION_NAMES) + " |")
    print("|---|---|---|---|" + "---|" * len(REGION_NAMES))
    moved, significant = [], []
    for name in runs:
        pooled, cases = acc[name]
        if name == BASELINE:
            means = " | ".join(f"{np.mean(list(dice[name][r].values())):.3f} (mean)" for r in REGION_NAMES)
            print(f"| **{name}** | {100 * pooled:.2f} % | — | — | {means} |")
            continue
        delta = 100 * (pooled - base_pooled)
        moved += [name] if abs(delta) > 0.5 else []
        a = compare(cases, base_cases)
        regions = []
        for r in REGION_NAMES:
            s = compare(dice[name][r], dice[BASELINE][r])
            significant += [f"{name} {r} ({s['mean_diff']:+.3f}, p = {s['p']:.3f})"] if s["p"] < 0.05 else []
            regions.append(fmt(s))
        print(f"| {name} | {100 * pooled:.2f} % | {delta:+.2f} | {fmt(a, 100, 2)} | {' | '.join(regions)} |")
    print(f"\nvariants whose pooled pixel accuracy moved by more than 0.5 pp: {', '.join(moved) or 'none'}")
    print(f"region Dice differences with Wilcoxon p < 0.05 (smallest attainable p with {n} cases: "
          f"{min(1.0, 2 / 2 ** n):.3f}): {'; '.join(significant) or 'none'}")


if __name__ == "__main__":
    main()
