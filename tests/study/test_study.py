"""The study runner end to end on real-sample cases, plus its statistics and parsing."""

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from brats_unet.cli import main
from brats_unet.errors import ConfigError
from brats_unet.study import stats as study_stats
from brats_unet.study.spec import load_study, only
from brats_unet.study.stats import Z_POWER, bootstrap_ci, cases_needed, compare, leaders, min_p, resolvable, wilcoxon_p

from ..checks import assert_drawn

REPO = Path(__file__).resolve().parents[2]
STUDY = """
name: tiny
base: {data: {size: 64, slices: [50, 110], max_cases: 8, split_fractions: [0.25, 0.125, 0.625]},
       model: {base_features: 4}, train: {batch_size: 8, steps_per_epoch: 3, val_max_cases: 1}}
budget: {train.epochs: 1}
seeds: [0]
baseline: ce
variants:
  ce: {loss: ce}
  dice_ce: {loss: {dice: 1.0, ce: 1.0}, data.oversample: 0.8}
"""


@pytest.fixture(scope="module")
def study_run(sample_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    (root / "tiny.yaml").write_text(STUDY)
    out = root / "out"
    assert main(["study", str(root / "tiny.yaml"), "--data", str(sample_dir), "--out", str(out), "--quiet"]) == 0
    return root, out


@pytest.mark.slow
def test_report_and_summary(study_run):
    _, out = study_run
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["variant"] for r in rows] == ["ce", "dice_ce"]
    text = (out / "report.md").read_text()
    assert "dice_bars.png" in text and "val_curves.png" in text and "Paired comparison" in text
    for name in ("dice_bars.png", "val_curves.png"):
        assert_drawn(out / name)
    assert "n_cases" in rows[1] and rows[1]["n_cases"] == "5"
    assert "no difference can reach p < 0.05" in text  # 5 cases: smallest p is 0.0625
    for region in ("WT", "TC", "ET"):  # so neither variant can be named the sole winner
        line = next(x for x in text.splitlines() if x.startswith(f"- {region} dice: **"))
        assert "level with it (Holm p ≥ .05): " in line, line


def test_p_value_matches_scipy_on_per_case_rows(study_run):
    _, out = study_run
    def wt(variant):
        path = out / "runs" / variant / "seed0" / "eval" / "per_case.csv"
        return {r["case"]: float(r["dice"]) for r in csv.DictReader(open(path)) if r["region"] == "WT"}
    a, b = wt("dice_ce"), wt("ce")
    diff = np.array([a[c] - b[c] for c in sorted(a)])
    expected = 1.0 if not diff.any() else stats.wilcoxon(diff).pvalue
    row = list(csv.DictReader(open(out / "summary.csv")))[1]
    assert float(row["WT_dice_p"]) == pytest.approx(expected)
    assert float(row["WT_dice_p_holm"]) == pytest.approx(expected)  # one variant against the baseline: no adjustment
    assert float(row["WT_dice_diff"]) == pytest.approx(diff.mean())


def test_rerun_skips_finished_variants(study_run, sample_dir, capsys):
    root, out = study_run
    ckpt = out / "runs" / "ce" / "seed0" / "last.pt"
    before = ckpt.stat().st_mtime_ns
    assert main(["study", str(root / "tiny.yaml"), "--data", str(sample_dir), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.count(": done") == 2 and "running" not in printed
    assert ckpt.stat().st_mtime_ns == before


def test_interrupted_variant_resumes(study_run, sample_dir, capsys):
    root, out = study_run
    (out / "runs" / "dice_ce" / "seed0" / "eval" / "per_case.csv").unlink()
    assert main(["study", str(root / "tiny.yaml"), "--data", str(sample_dir), "--out", str(out), "--dry-run"]) == 0
    states = dict(line.split(" seed 0: ") for line in capsys.readouterr().out.splitlines())
    assert {name.strip(): state for name, state in states.items()} == {"ce": "done", "dice_ce": "resume"}


def test_only_runs_the_named_variants_and_the_baseline(study_run, sample_dir, capsys):
    """--only: a variant added to a finished study runs alone (the others are not even listed)."""
    root, out = study_run
    (root / "more.yaml").write_text(STUDY + "  dice: {loss: dice}\n")
    assert main(["study", str(root / "more.yaml"), "--data", str(sample_dir), "--out", str(out), "--dry-run",
                 "--only", "dice"]) == 0
    states = dict(line.split(" seed 0: ") for line in capsys.readouterr().out.splitlines())
    assert {name.strip(): state for name, state in states.items()} == {"ce": "done", "dice": "new"}
    assert main(["study", str(root / "more.yaml"), "--data", str(sample_dir), "--out", str(out), "--dry-run",
                 "--only", "dise"]) == 2
    assert "did you mean 'dice'" in capsys.readouterr().err


def test_only_keeps_the_study_order_and_its_baseline(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: x\nbaseline: b\nvariants: {a: {}, b: {}, c: {}, d: {}}\n")
    study = load_study(f)
    assert [v.name for v in only(study, ["d", "a", "d"]).variants] == ["a", "b", "d"]
    assert only(study, ["b"]).variants == (study.variants[1],) and only(study, ["c"]).baseline == "b"
    with pytest.raises(ConfigError, match="'e' is not a variant of study 'x'.*variants: a, b, c, d"):
        only(study, ["e"])


def test_stats_helpers():
    d = np.array([0.1, 0.2, -0.05, 0.3, 0.15, 0.12, 0.08])
    assert wilcoxon_p(d) == pytest.approx(stats.wilcoxon(d).pvalue)
    assert wilcoxon_p(np.zeros(4)) == 1.0
    lo, hi = bootstrap_ci(d)
    assert lo < d.mean() < hi
    assert min_p(4) == 0.125 and min_p(6) == pytest.approx(0.03125)
    c = compare({"a": 1.0, "b": 0.5}, {"a": 0.5, "b": 0.5, "c": 0.1})
    assert c["n"] == 2 and c["mean_diff"] == pytest.approx(0.25) and c["too_few"]


def test_cases_needed_inverts_the_resolvable_lead():
    d = np.array([0.1, -0.1, 0.1, -0.1])  # sd = sqrt(.04 / 3); by hand (2.8016 * .11547 / .03)^2 = 116.3 -> 117
    assert cases_needed(d, 0.03) == 117
    # the inverse of resolvable(): n cases of this spread resolve a .03 lead at 117, not yet at 116
    assert Z_POWER * d.std(ddof=1) / np.sqrt(117) <= 0.03 < Z_POWER * d.std(ddof=1) / np.sqrt(116)
    assert resolvable(d) == pytest.approx(Z_POWER * d.std(ddof=1) / 2)
    assert cases_needed(d, 0.5) == 2 and cases_needed(d[:1], 0.03) is None and cases_needed(d, 0.0) is None


def test_leaders_name_the_variants_the_cases_cannot_separate():
    cases = [f"c{i}" for i in range(12)]
    a = {c: 0.80 + 0.01 * (i % 5) for i, c in enumerate(cases)}
    # b: .001 higher on average but up on half the cases and down on the rest (p near 1): level, not a winner
    b = {c: a[c] + (0.021 if i % 2 else -0.019) for i, c in enumerate(cases)}
    worse = {c: a[c] - 0.05 - 0.001 * i for i, c in enumerate(cases)}  # lower on every case: p = 2 / 2**12
    assert leaders({"a": a, "b": b, "worse": worse}) == ("b", ["a"])
    assert leaders({"a": a, "worse": worse}) == ("a", [])
    # lower is better (HD95): the worst Dice-like values become the best; NaN cases are left out of the means
    hd = {"a": {**a, "c0": float("nan")}, "worse": worse}
    assert leaders(hd, higher_is_better=False) == ("worse", [])
    assert leaders({"a": {"c0": float("nan")}}) is None


def test_summary_adjusts_each_region_p_over_the_variants():
    from brats_unet.study.report import _add_holm

    keys = [f"{r}_{m}_p" for r in ("WT", "TC", "ET") for m in ("dice", "hd95")]
    rows = [{"variant": "base"}] + [{"variant": v, **dict.fromkeys(keys, p)} for v, p in (("a", 0.01), ("b", 0.04))]
    _add_holm(rows, "base")
    assert "WT_dice_p_holm" not in rows[0]
    assert [rows[1]["ET_hd95_p_holm"], rows[2]["WT_dice_p_holm"]] == pytest.approx([0.02, 0.04])


def test_holm_adjusts_by_hand():
    # sorted .01, .02, .04, .30 of m = 4: 4 x .01 = .04; max(.04, 3 x .02 = .06); max(.06, 2 x .04 = .08); 1 x .30
    adjusted = study_stats.holm({"a": 0.04, "b": 0.01, "c": 0.30, "d": 0.02})
    assert adjusted == pytest.approx({"b": 0.04, "d": 0.06, "a": 0.08, "c": 0.30})
    # monotone: a larger raw p never gets a smaller adjusted one; capped at 1; NaN counts as 1
    adjusted = study_stats.holm({"a": 0.02, "b": 0.021, "c": float("nan")})
    assert adjusted == pytest.approx({"a": 0.06, "b": 0.06, "c": 1.0})
    assert study_stats.holm({"a": 0.5, "b": 0.6}) == {"a": 1.0, "b": 1.0} and study_stats.holm({}) == {}


def test_leaders_correct_for_the_number_of_variants():
    cases = [f"c{i}" for i in range(8)]
    best = {c: 0.9 for c in cases}
    # 7 of 8 cases lower, the one higher ranked 2nd (W = 2, exact p = 2 x 3 / 256 = .023 against the best):
    # separated alone, level once 3 such variants compete (Holm: 3 x .023 > .05)
    behind = {f"v{k}": {c: 0.9 - (0.01 * (i + 1 + k) if i else -0.025 - 0.01 * k) for i, c in enumerate(cases)}
              for k in range(3)}
    p = compare(behind["v0"], best)["p"]
    assert p == pytest.approx(6 / 256)
    assert leaders({"best": best, "v0": behind["v0"]}) == ("best", [])
    assert leaders({"best": best, **behind}) == ("best", ["v0", "v1", "v2"])


def test_study_parsing_errors(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: x\nvariants: {a: {model.activation: prelo}}\n")
    with pytest.raises(ConfigError, match="variant a: .*did you mean 'prelu'"):
        load_study(f)
    f.write_text("name: x\nbaseline: zz\nvariants: {a: {}}\n")
    with pytest.raises(ConfigError, match="baseline 'zz'"):
        load_study(f)
    f.write_text("name: x\nvariant: {a: {}}\n")
    with pytest.raises(ConfigError, match="did you mean 'variants'"):
        load_study(f)


def test_shipped_studies_parse():
    paper = load_study(REPO / "studies/paper/study.yaml")
    assert len(paper.variants) == 12 and paper.baseline in [v.name for v in paper.variants]
    losses = load_study(REPO / "studies/losses/study.yaml", ["train.epochs=2"])
    assert [v.name for v in losses.variants][:3] == ["ce", "dice", "dice_ce"] and losses.budget["train.epochs"] == 2
    assert len(load_study(REPO / "studies/architectures/study.yaml").variants) == 4


def test_html_report_loads_in_a_browser(study_run):
    from ..checks import browser

    _, out = study_run
    text = (out / "report.html").read_text()
    assert text.count("<img class=\"figure\"") == 2 and "dice_ce" in text and "https://" not in text
    driver = browser()
    try:
        driver.get((out / "report.html").as_uri())
        rows = driver.execute_script("return document.querySelectorAll('table')[0].tBodies[0].rows.length")
        assert rows == 2 and [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()
