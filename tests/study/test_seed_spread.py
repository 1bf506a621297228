"""The study report's run-to-run spread: each seed's pooled mean, their spread, and the differences from the
baseline that two runs of one variant could show (hand-computed cases, then a phantom CV with two seeds)."""

import csv
import math
from pathlib import Path

import pytest

from brats_unet.cli import main
from brats_unet.errors import BratsError
from brats_unet.evaluation.html import study_html
from brats_unet.study.report import (
    _best_section,
    _comparison_sections,
    _spread_section,
    average,
    seed_cases,
    seed_means,
    spread,
    within_spread,
)
from brats_unet.study.spec import Study, Variant, run_dir

from .test_cross_validation import CV

STUDY = Study(name="s", base={}, budget={}, seeds=(0, 1), variants=(Variant("a", {}),), baseline="a", folds=2)


def _write(out: Path, seed: int, fold: int, wt: dict[str, float]) -> None:
    d = run_dir(out, STUDY.variants[0], seed, fold) / "eval"
    d.mkdir(parents=True)
    with open(d / "per_case.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["case", "region", "dice", "hd95"])
        w.writeheader()
        w.writerows({"case": c, "region": "WT", "dice": v, "hd95": 10 * v} for c, v in wt.items())


def test_seed_means_and_spread_by_hand(tmp_path):
    # seed 0 scores .8/.6 (fold 0) and .7 (fold 1): mean .7; seed 1 .9/.7 and .5: mean .7 too, so spread 0 on
    # the means although every case moved by .1 or .2
    _write(tmp_path, 0, 0, {"c1": 0.8, "c2": 0.6})
    _write(tmp_path, 0, 1, {"c3": 0.7})
    _write(tmp_path, 1, 0, {"c1": 0.9, "c2": 0.7})
    _write(tmp_path, 1, 1, {"c3": 0.5})
    variant = STUDY.variants[0]
    assert seed_cases(STUDY, tmp_path, variant, 1)[("WT", "dice")] == {"c1": 0.9, "c2": 0.7, "c3": 0.5}
    runs = [seed_cases(STUDY, tmp_path, variant, seed) for seed in STUDY.seeds]
    assert seed_means(runs)[("WT", "dice")] == pytest.approx([0.7, 0.7])
    assert average(runs)[("WT", "dice")] == pytest.approx({"c1": 0.85, "c2": 0.65, "c3": 0.6})
    assert spread([0.84, 0.81, 0.85]) == pytest.approx(0.04)
    assert math.isnan(spread([0.84])) and math.isnan(spread([0.84, math.nan]))


def test_a_case_in_two_folds_of_one_seed_is_an_error(tmp_path):
    _write(tmp_path, 0, 0, {"c1": 0.8})
    _write(tmp_path, 0, 1, {"c1": 0.7})
    with pytest.raises(BratsError, match="case c1 was tested in folds 0 and 1 of variant a"):
        seed_cases(STUDY, tmp_path, STUDY.variants[0], 0)


def test_within_spread_compares_the_lead_with_either_variants_seeds():
    base = {"WT_dice_seed_spread": 0.02}
    assert within_spread({"WT_dice_diff": -0.015, "WT_dice_seed_spread": math.nan}, base, "WT_dice")
    assert not within_spread({"WT_dice_diff": 0.03, "WT_dice_seed_spread": 0.01}, base, "WT_dice")
    assert within_spread({"WT_dice_diff": 0.03, "WT_dice_seed_spread": 0.031}, base, "WT_dice")
    one_seed = {"WT_dice_seed_spread": math.nan}
    assert not within_spread({"WT_dice_diff": 0.001, "WT_dice_seed_spread": math.nan}, one_seed, "WT_dice")
    assert "is not measured here" in _spread_section([], (0,))[0]


def test_a_one_variant_study_reports_no_paired_statistics():
    # seeds.yaml-style studies (one variant, several seeds) had an empty paired table under a "0 paired cases"
    # warning, and the one variant was "ahead of every other variant"
    text = "\n".join(_comparison_sections(STUDY, [{"variant": "a"}]))
    assert "nothing to compare it with" in text
    assert "Paired comparison" not in text and "Too few cases" not in text
    assert _best_section([{"variant": "a"}], {}) == []
    row = {"variant": "a", **{f"{r}_dice_{k}": 0.8 for r in ("WT", "TC", "ET") for k in ("seed0", "seed1")},
           **{f"{r}_dice_seed_spread": 0.0 for r in ("WT", "TC", "ET")}}
    assert "†" not in "\n".join(_spread_section([row], (0, 1)))  # no comparison table above to mark
    assert "†" in "\n".join(_spread_section([row, {**row, "variant": "b"}], (0, 1)))
    results = (["variant"], [["a"]])
    assert "Paired comparison" not in study_html("t", "i", results, (["variant"], []), {})
    assert "Paired comparison" in study_html("t", "i", results, (["variant"], [["b"]]), {})


@pytest.mark.slow  # trains 8 tiny runs
def test_two_seeds_report_each_run_and_their_spread(tmp_path):
    from .test_cross_validation import _synthetic_roots

    a, b = _synthetic_roots(tmp_path / "roots")
    (tmp_path / "s.yaml").write_text(CV.replace("folds: 3", "folds: 2").replace("seeds: [0]", "seeds: [0, 1]"))
    out = tmp_path / "out"
    assert main(["study", str(tmp_path / "s.yaml"), "--data", str(a), "--data", str(b), "--out", str(out),
                 "--quiet"]) == 0
    rows = {r["variant"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    means = {}
    for variant in ("ce", "dice_ce"):
        for seed in (0, 1):
            wt = [float(r["dice"]) for k in (0, 1)
                  for r in csv.DictReader(open(out / "runs" / variant / f"fold{k}" / f"seed{seed}" / "eval" /
                                               "per_case.csv")) if r["region"] == "WT"]
            assert len(wt) == 7  # every case once per seed
            means[variant, seed] = sum(wt) / len(wt)
            assert float(rows[variant][f"WT_dice_seed{seed}"]) == pytest.approx(means[variant, seed])
        assert float(rows[variant]["WT_dice_seed_spread"]) == pytest.approx(abs(means[variant, 0] -
                                                                                means[variant, 1]))
    text = (out / "report.md").read_text()
    assert "## Run-to-run spread" in text and "WT Dice by seed" in text
    assert "WT dice seed spread" in (out / "report.html").read_text()
    line = next(x for x in text.splitlines() if x.startswith("| dice_ce | ") and " / " in x.split("|")[2])
    assert f"{means['dice_ce', 0]:.3f} / {means['dice_ce', 1]:.3f}" in line
    lead = float(rows["dice_ce"]["WT_dice_diff"])
    marked = abs(lead) < max(float(rows[v]["WT_dice_seed_spread"]) for v in ("ce", "dice_ce"))
    comparison = next(x for x in text.splitlines() if x.startswith("| dice_ce | ") and "Holm" in x)
    assert comparison.split("|")[2].strip().split(" [")[0].endswith(" †") == marked
