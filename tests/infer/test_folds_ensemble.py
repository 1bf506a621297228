"""Five cross-validation folds trained through the CLI on real cases, predicted as one ensemble; the
post-processing evaluate chooses on validation is stored and applied by predict."""

import shutil

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml

from brats_unet.atomic_files import read_json
from brats_unet.cli import main
from brats_unet.data.discovery import discover_cases
from brats_unet.infer.postprocess import GRID, Postprocess, apply, read_choice, write_choice
from brats_unet.infer.predict import labels_in_original, load_run, model_probabilities, segment
from brats_unet.runs.folder import read_split

pytestmark = pytest.mark.slow  # trains, spawns processes or opens a browser: make test only


FOLD = ["data.max_cases=7", "data.size=64", "data.slices=[40, 120]", "train.batch_size=8",
        "train.steps_per_epoch=3", "train.epochs=1", "model.base_features=8", "data.oversample=0.5"]


@pytest.fixture(scope="module")
def folds(sample_dir, tmp_path_factory):
    """5 fold runs over 7 real cases: 1 held-out test case, 6 folded (validation parts of 2,1,1,1,1)."""
    root, cache = tmp_path_factory.mktemp("folds"), tmp_path_factory.mktemp("fold-cache")
    for k in range(5):
        code = main(["train", "--data", str(sample_dir), "--out", str(root / f"fold{k}"), "--fold", str(k), "--quiet",
                     "--set", *FOLD, f"data.cache_dir={cache}"])
        assert code == 0
    return [root / f"fold{k}" for k in range(5)]


def test_fold_runs_write_one_splits_final_and_partition_the_cases(folds):
    written = [read_json(f / "splits_final.json") for f in folds]
    assert all(w == written[0] for w in written) and len(written[0]) == 5
    splits = [read_split(f) for f in folds]
    for k, split in enumerate(splits):
        assert split["fold"] == k and split["val"] == written[0][k]["val"] and split["test"] == splits[0]["test"]
    vals = [c for s in splits for c in s["val"]]
    assert len(vals) == len(set(vals)) == 6 and not set(vals) & set(splits[0]["test"])


def _case(folds, sample_dir):
    test_id = read_split(folds[0])["test"][0]
    return next(c for c in discover_cases(sample_dir) if c.case_id == test_id)


def test_a_five_fold_ensemble_averages_probabilities(folds, sample_dir, run_cli, tmp_path):
    case = _case(folds, sample_dir)
    result = run_cli("predict", *folds, case.images["flair"].path.parent, "--out", tmp_path, "--quiet")
    assert result.code == 0, result.err
    written = nib.load(tmp_path / f"{case.case_id}_seg.nii.gz")
    assert written.shape == nib.load(case.images["flair"].path).shape
    members = [load_run(f) for f in folds]
    probs = [model_probabilities(m, case)[0] for m in members]
    meta = model_probabilities(members[0], case)[1]
    mean = labels_in_original(torch.stack(probs).mean(0), meta, "multiclass")
    expected = case.scheme.from_internal(mean)
    agree = np.mean(np.asarray(written.dataobj) == expected)
    assert agree > 0.9999, agree  # float32 rounding may flip a tie, nothing more
    singles = [case.scheme.from_internal(labels_in_original(p, meta, "multiclass")) for p in probs]
    assert any(not np.array_equal(s, expected) for s in singles)  # the ensemble is not one member


def test_an_ensemble_of_unlike_runs_is_refused(folds, sample_dir, run_cli, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(folds[1], other)
    cfg = yaml.safe_load((other / "config.yaml").read_text())
    cfg["data"]["normalize"] = "max"
    (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    state = torch.load(other / "best.pt", weights_only=True)  # a run trained that way (the run is its checkpoint)
    state["config"]["data"]["normalize"] = "max"
    torch.save(state, other / "best.pt")
    case_dir = _case(folds, sample_dir).images["flair"].path.parent
    result = run_cli("predict", folds[0], other, case_dir, "--out", tmp_path / "out", "--quiet")
    assert result.code == 2 and "differ at data.normalize" in result.error_lines[0]
    result = run_cli("predict", folds[0], folds[1], "--out", tmp_path / "out", "--quiet")
    assert result.code == 2 and "is a run folder, not an input" in result.error_lines[0]


def test_evaluate_chooses_postprocessing_on_validation_and_predict_applies_it(folds, sample_dir, run_cli,
                                                                              tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(folds[0], run_dir)
    assert run_cli("evaluate", run_dir, "--quiet").code == 0
    record = read_json(run_dir / "postprocessing.json")
    val = read_split(run_dir)["val"]
    assert sorted(record["dice"]) == val and all(len(record["dice"][c]) == len(GRID) for c in val)
    chosen = Postprocess(*record["chosen"])
    text = (run_dir / "eval" / "brats.md").read_text()
    assert f"Post-processing: {chosen.describe() if chosen.active else 'none'}" in text
    assert (run_dir / "eval" / "per_case_no_postprocess.csv").exists() == chosen.active
    # a choice that changes this model's mask, stored as evaluate stores it, is what predict writes
    case = _case(folds, sample_dir)
    raw = segment(load_run(run_dir), case, postprocess=False)[0]
    forced = Postprocess(1.0, 800)
    assert not np.array_equal(apply(raw, forced), raw)
    tables = {"v": [[0.5, 0.5, 1.0 if g == forced else 0.5] for g in GRID]}
    write_choice(run_dir, tables, "best", tta=False)
    assert read_choice([run_dir], "best")[0] == forced
    for sets, expected in (([], apply(raw, forced)), (["--set", "eval.postprocess=none"], raw)):
        out = tmp_path / f"pred{len(sets)}"
        assert run_cli("predict", run_dir, case.images["flair"].path.parent, "--out", out, "--quiet", *sets).code == 0
        got = np.asarray(nib.load(out / f"{case.case_id}_seg.nii.gz").dataobj)
        assert np.array_equal(got, case.scheme.from_internal(expected))
