"""``folds: K`` in a study: every case tested exactly once, no patient in two roles of a fold, the report pooled
over folds; several ``--data`` roots as one dataset. A tiny phantom CV (fast lane) and a real-sample one (slow)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from brats_unet.cli import main
from brats_unet.data.roots import union_root
from brats_unet.data.synth import write_synthetic
from brats_unet.errors import ConfigError, DataError
from brats_unet.study.folds import check_folds, fold_split
from brats_unet.study.spec import load_study
from brats_unet.study.stats import cases_needed

CV = """
name: tiny-cv
base: {data: {size: 32, slices: [0, 16]}, model: {base_features: 4, depth: 2},
       train: {batch_size: 4, steps_per_epoch: 2, precision: fp32, val_max_cases: 1}}
budget: {train.epochs: 1}
folds: 3
seeds: [0]
baseline: ce
variants:
  ce: {loss: ce}
  dice_ce: {loss: {dice: 1.0, ce: 1.0}}
"""


def _synthetic_roots(base: Path) -> tuple[Path, Path]:
    """Two phantom roots under ``base`` with distinct case ids (4 + 3 cases)."""
    a, b = base / "a", base / "b"
    write_synthetic(a, cases=4, seed=1, shape=(40, 40, 16))
    write_synthetic(b, cases=3, seed=2, shape=(40, 40, 16))
    for case in sorted(b.iterdir()):  # the writer numbers cases from 0: give root b ids of its own
        new = case.name.replace("Synth", "Other")
        for f in case.iterdir():
            f.rename(case / f.name.replace(case.name, new))
        case.rename(b / new)
    return a, b


@pytest.fixture(scope="module")
def two_roots(tmp_path_factory) -> tuple[Path, Path]:
    return _synthetic_roots(tmp_path_factory.mktemp("roots"))


@pytest.fixture(scope="module")
def cv_study(two_roots, tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    (root / "cv.yaml").write_text(CV)
    out = root / "out"
    a, b = two_roots
    assert main(["study", str(root / "cv.yaml"), "--data", str(a), "--data", str(b), "--out", str(out),
                 "--quiet"]) == 0
    return root, out


def _per_case(out: Path, variant: str, fold: int) -> set[str]:
    path = out / "runs" / variant / f"fold{fold}" / "seed0" / "eval" / "per_case.csv"
    return {r["case"] for r in csv.DictReader(open(path))}


def test_every_case_is_tested_exactly_once(cv_study, two_roots):
    _, out = cv_study
    ids = sorted(p.name for r in two_roots for p in r.iterdir())
    folds = json.loads((out / "splits_final.json").read_text())
    assert len(folds) == 3 and sorted(c for f in folds for c in f["val"]) == ids
    for variant in ("ce", "dice_ce"):
        tested = [_per_case(out, variant, k) for k in range(3)]
        assert sorted(c for t in tested for c in t) == ids  # each case in exactly one fold's scores
        assert [sorted(t) for t in tested] == [sorted(f["val"]) for f in folds]


def test_no_patient_in_two_roles_of_a_fold(cv_study):
    _, out = cv_study
    for k in range(3):
        split = json.loads((out / "runs" / "ce" / f"fold{k}" / "seed0" / "split.json").read_text())
        roles = [set(split[r]) for r in ("train", "val", "test")]
        assert all(roles) and not (roles[0] & roles[1] or roles[0] & roles[2] or roles[1] & roles[2])
        assert split == json.loads((out / "splits" / f"fold{k}.json").read_text())


def _pooled_wt_dice(out: Path, variant: str) -> dict[str, float]:
    """{case: WT Dice} of a variant over the 3 folds' test cases, read from each fold run's own per_case.csv."""
    pooled = {}
    for k in range(3):
        path = out / "runs" / variant / f"fold{k}" / "seed0" / "eval" / "per_case.csv"
        pooled |= {r["case"]: float(r["dice"]) for r in csv.DictReader(open(path)) if r["region"] == "WT"}
    return pooled


def test_report_pools_all_folds(cv_study):
    _, out = cv_study
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["variant"] for r in rows] == ["ce", "dice_ce"] and rows[1]["n_cases"] == "7"
    pooled = _pooled_wt_dice(out, "dice_ce")
    assert float(rows[1]["WT_dice_mean"]) == pytest.approx(sum(pooled.values()) / len(pooled))
    base = _pooled_wt_dice(out, "ce")
    # the planning figure: paired cases a .03 lead would need at the spread of the 7 pooled differences
    need = cases_needed(np.array([pooled[c] - base[c] for c in sorted(pooled)]), 0.03)
    assert rows[1]["WT_dice_cases_needed"] == str(need)
    text = (out / "report.md").read_text()
    assert f"({need} cases for ±0.03)" in text
    # one seed: the run-to-run spread is said to be unmeasured, never shown as 0
    assert "is not measured here" in text and rows[1]["WT_dice_seed_spread"] == "nan"
    assert not [x for x in text.splitlines() if x.startswith("| dice_ce |") and "†" in x]
    assert "seed spread" not in (out / "report.html").read_text()
    assert "3-fold patient-level cross-validation over 7 cases" in text and "smallest lead" in text
    assert "2 steps of 4 (8 samples)" in text and "trained on:" in text


def test_rerun_reads_the_folds_back_and_skips(cv_study, two_roots, capsys):
    root, out = cv_study
    a, b = two_roots
    before = (out / "splits_final.json").read_text()
    assert main(["study", str(root / "cv.yaml"), "--data", str(a), "--data", str(b), "--out", str(out),
                 "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert printed.count(": done") == 6 and "fold 2 seed 0" in printed
    assert (out / "splits_final.json").read_text() == before


def test_given_splits_file_is_used(two_roots, tmp_path):
    a, b = two_roots
    ids = sorted(p.name for r in two_roots for p in r.iterdir())
    given = [{"train": [c for c in ids if c not in part], "val": part} for part in (ids[:2], ids[2:4], ids[4:])]
    (tmp_path / "splits_final.json").write_text(json.dumps(given))
    (tmp_path / "s.yaml").write_text(CV.replace("folds: 3", "folds: 3\nsplits: splits_final.json"))
    out = tmp_path / "out"
    assert main(["study", str(tmp_path / "s.yaml"), "--data", str(a), "--data", str(b), "--out", str(out),
                 "--dry-run"]) == 0
    assert json.loads((out / "splits_final.json").read_text()) == given
    assert json.loads((out / "splits" / "fold0.json").read_text())["test"] == ids[:2]


def test_bad_folds_are_refused(tmp_path):
    ids = ["a", "b", "c", "d"]
    with pytest.raises(DataError, match="case b is in the 'val' part of two folds"):
        check_folds([{"train": ["c", "d"], "val": ["a", "b"]}, {"train": ["a", "c", "d"], "val": ["b"]}], ids, 2, "f")
    with pytest.raises(DataError, match=r"cases \['d'\] are in no fold"):
        check_folds([{"train": ["c", "d"], "val": ["a", "b"]}, {"train": ["a", "b", "d"], "val": ["c"]}], ids, 2, "f")
    with pytest.raises(DataError, match="holds 1 folds but the study says folds: 2"):
        check_folds([{"train": [], "val": ids}], ids, 2, "f")
    with pytest.raises(DataError, match="too few"):
        fold_split([{"train": ["a"], "val": ["b", "c", "d"]}], 0)
    f = tmp_path / "s.yaml"
    for bad, message in (("folds: 1", "folds: expected an integer >= 2"), ("splits: x.json", "needs 'folds: K'"),
                         ("folds: 2\nsplits: nowhere.json", "splits file 'nowhere.json' not found"),
                         ("seeds: []", "seeds: expected a non-empty list"), ("seeds: [0, 0]", "repeats a seed")):
        f.write_text(f"name: x\n{bad}\nvariants: {{a: {{}}}}\n")
        with pytest.raises(ConfigError, match=message):
            load_study(f)


def test_union_refuses_an_id_under_two_roots(two_roots, tmp_path):
    a, _ = two_roots
    with pytest.raises(DataError, match="is under both"):
        union_root([a, a], tmp_path / "u")
    assert union_root([a], tmp_path / "u") == a  # one root: used as it is, no links


@pytest.mark.slow
def test_real_sample_cross_validation(sample_dir, tmp_path):
    """Two folds over 6 real cases (two roots of links into the sample): scores at the original geometry."""
    roots = [tmp_path / "r1", tmp_path / "r2"]
    cases = sorted(p for p in sample_dir.iterdir() if p.is_dir())[:6]
    for i, case in enumerate(cases):
        roots[i % 2].mkdir(exist_ok=True)
        (roots[i % 2] / case.name).symlink_to(case)
    (tmp_path / "s.yaml").write_text("""
name: real-cv
base: {data: {size: 64, slices: [60, 100], split_fractions: [0.6, 0.2, 0.2]}, model: {base_features: 4},
       train: {batch_size: 8, steps_per_epoch: 2, precision: fp32, val_max_cases: 1}}
budget: {train.epochs: 1}
folds: 2
variants: {a: {}, b: {loss: {dice: 1.0, ce: 1.0}}}
""")
    out = tmp_path / "out"
    assert main(["study", str(tmp_path / "s.yaml"), *[x for r in roots for x in ("--data", str(r))],
                 "--out", str(out), "--quiet"]) == 0
    tested = sorted(c for k in range(2) for c in _per_case(out, "b", k))
    assert tested == sorted(c.name for c in cases)
    assert list(csv.DictReader(open(out / "summary.csv")))[1]["n_cases"] == "6"


def test_the_cv30_reference_variant_is_configs_reference_yaml():
    """studies/cv30 spells the reference as overrides of the recipe: they must give configs/reference.yaml."""
    from brats_unet.config import load_config, to_dict
    from brats_unet.models import build_model
    from brats_unet.study.spec import variant_config

    repo = Path(__file__).resolve().parents[2]
    study = load_study(repo / "studies" / "cv30" / "study.yaml")
    ref = next(v for v in study.variants if v.name == "reference")
    a, b = variant_config(study, ref, 0), load_config(repo / "configs" / "reference.yaml")
    ours, theirs = to_dict(a), to_dict(b)
    for section in ("data", "loss"):
        assert ours[section] == theirs[section], section
    # model.base_features differs (16 against the default 32) but model.features overrides it: the same network
    shapes = [{k: v.shape for k, v in build_model(c.model, c.in_channels, c.num_classes).state_dict().items()}
              for c in (a, b)]
    assert shapes[0] == shapes[1] and study.folds == 5
