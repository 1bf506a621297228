"""End-to-end through the CLI on the real sample: train -> evaluate -> predict -> report, and --resume."""

import csv

import nibabel as nib
import numpy as np
import pytest

from brats_unet.cli import main
from brats_unet.config import load_config
from brats_unet.runs.folder import read_metrics
from brats_unet.train.loop import train

from ..checks import assert_drawn

pytestmark = pytest.mark.slow  # trains, spawns processes or opens a browser: make test only


QUICK = ["data.max_cases=5", "data.size=64", "data.slices=[40, 120]", "train.batch_size=8",
         "train.steps_per_epoch=4", "train.epochs=2", "model.base_features=8", "data.oversample=0.5"]


def _sets(items):
    return [a for s in items for a in ("--set", s)]


@pytest.fixture(scope="module")
def run_dir(sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "run"
    assert main(["train", "--data", str(sample_dir), "--out", str(out), "--quiet", *_sets(QUICK)]) == 0
    return out


def test_run_folder_contents(run_dir):
    for name in ("config.yaml", "split.json", "run.json", "metrics.csv", "last.pt", "best.pt",
                 "figures/fig2_curves.png"):
        assert (run_dir / name).exists(), name
    rows = read_metrics(run_dir)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(np.isfinite([r["train_loss"], r["val_loss"], r["val_dice"]]).all() for r in rows)
    assert load_config(run_dir / "config.yaml").data.size == 64


def test_evaluate_writes_table1_and_brats(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--split", "all", "--quiet"]) == 0
    rows = list(csv.DictReader(open(run_dir / "eval" / "table1.csv")))
    assert [r["split"] for r in rows] == ["Training", "Validation", "Test"]
    assert all(np.isfinite([float(r[k]) for k in ("loss", "accuracy", "mean_iou", "dice")]).all() for r in rows)
    assert len(list(csv.DictReader(open(run_dir / "eval" / "per_case.csv")))) == 3 * 5  # every case of 5
    assert main(["evaluate", str(run_dir), "--quiet"]) == 0  # the default, --split test: that split alone
    rows = list(csv.DictReader(open(run_dir / "eval" / "table1.csv")))
    assert [r["split"] for r in rows] == ["Test"]
    per_case = list(csv.DictReader(open(run_dir / "eval" / "per_case.csv")))
    assert {r["region"] for r in per_case} == {"WT", "TC", "ET"} and len(per_case) == 3  # 1 test case of 5
    assert all(np.isfinite(float(r["dice"])) and np.isfinite(float(r["hd95"])) for r in per_case)
    assert "| WT |" in (run_dir / "eval" / "brats.md").read_text()


def test_predict_keeps_geometry_and_codes(run_dir, sample_dir, tmp_path):
    case_dir = sample_dir / "Brats18_CBICA_ABM_1"
    out = tmp_path / "pred"
    assert main(["predict", str(run_dir), str(case_dir), "--out", str(out), "--tta", "--save-probabilities"]) == 0
    pred = nib.load(str(out / "Brats18_CBICA_ABM_1_seg.nii.gz"))
    ref = nib.load(str(case_dir / "Brats18_CBICA_ABM_1_flair.nii.gz"))
    data = np.asarray(pred.dataobj)
    assert data.shape == ref.shape and data.dtype == np.uint8 and pred.get_data_dtype() == np.uint8
    np.testing.assert_allclose(pred.affine, ref.affine)
    assert pred.header.get_zooms() == ref.header.get_zooms()
    assert set(np.unique(data)) <= {0, 1, 2, 4}
    assert not data[..., :40].any() and not data[..., 120:].any()  # outside data.slices: background
    probs = np.load(out / "Brats18_CBICA_ABM_1_probabilities.npz")["probabilities"]
    assert probs.shape == (4, 240, 240, 155)


def test_predict_explicit_files_and_failures(run_dir, sample_dir, tmp_path, capsys):
    case_dir = sample_dir / "Brats18_CBICA_ABM_1"
    out = tmp_path / "pred"
    assert main(["predict", str(run_dir), "--out", str(out),
                 "--flair", str(case_dir / "Brats18_CBICA_ABM_1_flair.nii.gz"),
                 "--t1ce", str(case_dir / "Brats18_CBICA_ABM_1_t1ce.nii.gz")]) == 0
    assert (out / "Brats18_CBICA_ABM_1_seg.nii.gz").exists()
    # a dataset whose second case lacks T1ce: the first is still written, exit code 2 at the end
    bad = tmp_path / "data"
    for cid in ("Brats18_CBICA_ABM_1", "Brats18_CBICA_ALU_1"):
        (bad / cid).mkdir(parents=True)
        for mod in ("flair", "t1ce") if cid.endswith("ABM_1") else ("flair",):
            (bad / cid / f"{cid}_{mod}.nii.gz").symlink_to(sample_dir / cid / f"{cid}_{mod}.nii.gz")
    assert main(["predict", str(run_dir), str(bad), "--out", str(tmp_path / "p2")]) == 2
    assert "Brats18_CBICA_ALU_1" in capsys.readouterr().err
    assert (tmp_path / "p2" / "Brats18_CBICA_ABM_1_seg.nii.gz").exists()
    assert not (tmp_path / "p2" / "Brats18_CBICA_ALU_1_seg.nii.gz").exists()


def test_report_figures(run_dir):
    assert main(["report", str(run_dir)]) == 0
    figs = sorted(p.name for p in (run_dir / "figures").iterdir())
    assert "fig2_curves.png" in figs and any(f.startswith("fig3_") for f in figs)
    for f in figs:
        assert_drawn(run_dir / "figures" / f)


def test_bad_config_is_one_line_exit_2(sample_dir, tmp_path, capsys):
    args = ["train", "--data", str(sample_dir), "--out", str(tmp_path / "r"), "--set", "model.activation=prelo"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'prelu'" in err
    assert not (tmp_path / "r").exists()


def test_resume_reproduces_uninterrupted_run(sample_dir, tmp_path):
    cfg = load_config(overrides=QUICK + ["train.epochs=3", "model.norm=batch", "data.augment=true"])
    full = train(cfg, sample_dir, tmp_path / "full", progress=False)

    class Interrupt(Exception):
        pass

    def stop(epoch, step):
        if epoch == 1 and step == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(cfg, sample_dir, tmp_path / "cut", progress=False, on_step=stop)
    assert [r["epoch"] for r in read_metrics(tmp_path / "cut")] == [1]
    assert main(["train", "--data", str(sample_dir), "--out", str(tmp_path / "cut"), "--resume", "--quiet"]) == 0
    a, b = read_metrics(tmp_path / "full"), read_metrics(tmp_path / "cut")
    assert len(a) == len(b) == 3
    for ra, rb in zip(a, b):
        for key in ("train_loss", "val_loss", "val_dice", "val_WT"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-6, abs=1e-9), key
    assert full["val_loss"] == pytest.approx(b[-1]["val_loss"], rel=1e-6)


def test_3d_train_evaluate_predict(sample_dir, tmp_path):
    sets = QUICK + ["model.spatial_dims=3", "model.base_features=4", "model.depth=3", "data.patch_size=[32, 48, 48]",
                    "train.batch_size=2", "train.epochs=1", "loss={dice: 1.0, ce: 1.0}", "loss.mode=regions"]
    run = tmp_path / "run3d"
    assert main(["train", "--data", str(sample_dir), "--out", str(run), "--quiet", *_sets(sets)]) == 0
    assert main(["evaluate", str(run), "--quiet"]) == 0
    out = tmp_path / "pred"
    assert main(["predict", str(run), str(sample_dir / "Brats18_CBICA_ABM_1"), "--out", str(out)]) == 0
    data = np.asarray(nib.load(str(out / "Brats18_CBICA_ABM_1_seg.nii.gz")).dataobj)
    assert data.shape == (240, 240, 155) and set(np.unique(data)) <= {0, 1, 2, 4}
