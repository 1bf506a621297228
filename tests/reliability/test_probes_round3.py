"""The 35 probes of issue 35 that broke a promise, each as a test: explicit files checked as folders are, the run
is its checkpoint, nothing overwrites a run or escapes --out, packs are validated, tracebacks become one line."""

from __future__ import annotations

import json
import shutil
import stat
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml

from brats_unet.errors import ConfigError, DataError

from .conftest import TINY, temporaries


def _one_line(result, *fragments: str) -> None:
    assert result.code == 2, (result.out, result.err)
    assert len(result.error_lines) == 1 and "Traceback" not in result.err, result.err
    for fragment in fragments:
        assert fragment in result.error_lines[0], (fragment, result.error_lines[0])


def _files(data: Path, case: str) -> dict[str, Path]:
    return {m: data / case / f"{case}_{m}.nii.gz" for m in ("flair", "t1", "t1ce", "t2", "seg")}


# 1. explicit files are checked as folders are -------------------------------------------------------------------


def test_explicit_files_named_for_other_modalities_are_refused(run_copy, phantoms, run_cli, tmp_path):
    f = _files(phantoms, "Synth_001")
    out = tmp_path / "pred"
    _one_line(run_cli("predict", run_copy, "--flair", f["t1ce"], "--t1ce", f["flair"], "--out", out),
              "Synth_001_t1ce.nii.gz", "the t1ce image", "--flair")
    _one_line(run_cli("predict", run_copy, "--flair", f["flair"], "--t1ce", f["flair"], "--out", out),
              "given for both --flair and --t1ce")
    _one_line(run_cli("predict", run_copy, "--flair", f["seg"], "--t1ce", f["t1ce"], "--out", out),
              "Synth_001_seg.nii.gz", "a segmentation", "--flair")
    g = _files(phantoms, "Synth_002")
    _one_line(run_cli("predict", run_copy, "--flair", f["flair"], "--t1ce", g["t1ce"], "--out", out),
              "two cases", "Synth_001", "Synth_002")
    assert not out.exists()


def test_brats2023_names_given_to_the_wrong_flag_are_refused(run_copy, phantoms, run_cli, tmp_path):
    f = _files(phantoms, "Synth_001")
    t1c, t2f = tmp_path / "BraTS-GLI-00001-000-t1c.nii.gz", tmp_path / "BraTS-GLI-00001-000-t2f.nii.gz"
    shutil.copyfile(f["t1ce"], t1c)
    shutil.copyfile(f["flair"], t2f)
    _one_line(run_cli("predict", run_copy, "--t2f", t1c, "--t1c", t2f, "--out", tmp_path / "pred"),
              "BraTS-GLI-00001-000-t1c.nii.gz", "the t1ce image")


def test_a_label_map_with_a_plain_name_is_refused_as_an_image(run_copy, phantoms, run_cli, tmp_path):
    f = _files(phantoms, "Synth_001")
    plain = tmp_path / "scan.nii.gz"
    shutil.copyfile(f["seg"], plain)
    _one_line(run_cli("predict", run_copy, "--flair", plain, "--t1ce", f["t1ce"], "--out", tmp_path / "pred"),
              "scan.nii.gz", "a label map")


def test_a_case_id_that_would_escape_the_output_folder_is_refused(run_copy, phantoms, run_cli, tmp_path):
    f = _files(phantoms, "Synth_001")
    out = tmp_path / "pred"
    for bad in ("../escaped", "a/b", ".hidden"):
        _one_line(run_cli("predict", run_copy, "--flair", f["flair"], "--t1ce", f["t1ce"], "--case-id", bad,
                          "--out", out), "cannot name an output file")
    assert not (tmp_path / "escaped_seg.nii.gz").exists() and not out.exists()


# 2. the run is its checkpoint -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key, value", [("data.modalities", ["flair", "t2"]), ("data.size", 64),
                                        ("data.normalize", "max"), ("loss.mode", "regions")])
def test_a_config_edited_after_training_is_refused(run_copy, phantoms, run_cli, tmp_path, key, value):
    cfg = yaml.safe_load((run_copy / "config.yaml").read_text())
    section, name = key.split(".")
    cfg[section][name] = value
    (run_copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    for args in (["predict", run_copy, phantoms / "Synth_001", "--out", tmp_path / "pred"],
                 ["export", run_copy, "--format", "torchscript", "--out", tmp_path / "m.pt"],
                 ["evaluate", run_copy], ["report", run_copy]):
        _one_line(run_cli(*args), "config.yaml", key, "the checkpoint")
    assert not (tmp_path / "pred").exists() and not (tmp_path / "m.pt").exists()


def test_inference_settings_in_config_yaml_are_still_read(run_copy, phantoms, run_cli, tmp_path):
    cfg = yaml.safe_load((run_copy / "config.yaml").read_text())
    cfg["eval"]["tta"] = True
    (run_copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert run_cli("predict", run_copy, phantoms / "Synth_001", "--out", tmp_path / "pred").code == 0


# 3. nothing overwrites a run or escapes --out --------------------------------------------------------------------


def test_outputs_may_not_land_on_the_run_s_own_files(run_copy, run_cli, tmp_path):
    before = {n: (run_copy / n).read_bytes() for n in ("best.pt", "config.yaml")}
    _one_line(run_cli("pack", run_copy, run_copy / "best.pt"), "inside the run folder")
    _one_line(run_cli("pack", run_copy, run_copy / "run.zip"), "inside the run folder")
    for target in ("config.yaml", "best.pt", "last.pt", "split.json"):
        _one_line(run_cli("export", run_copy, "--format", "torchscript", "--out", run_copy / target),
                  "would replace the run's own files")
    assert {n: (run_copy / n).read_bytes() for n in before} == before
    assert not (run_copy / "run.zip").exists()


def test_unpack_refuses_a_folder_that_is_not_empty(run_copy, run_cli, tmp_path):
    archive = tmp_path / "run.zip"
    assert run_cli("pack", run_copy, archive).code == 0
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    _one_line(run_cli("unpack", archive, dest), "not an empty folder")
    assert (dest / "notes.txt").read_text() == "mine" and sorted(p.name for p in dest.iterdir()) == ["notes.txt"]
    assert run_cli("unpack", archive, tmp_path / "new").code == 0


def test_a_variant_name_that_would_escape_the_study_folder_is_refused(tmp_path):
    from brats_unet.study.spec import load_study

    for bad in ("../../escape", "a/b", ".."):
        (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "x", "variants": {bad: {}}}))
        with pytest.raises(ConfigError, match="cannot be a folder name"):
            load_study(tmp_path / "s.yaml")


def _repack(archive: Path, out: Path, manifest=None, drop=(), extra: dict | None = None, link: str = "") -> Path:
    """A copy of a packed run with its manifest, members or links changed."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name in drop:
                continue
            data = src.read(name)
            if name == "PACK.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
            dst.writestr(name, data)
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            dst.writestr(info, "/etc/passwd")
    return out


def test_a_pack_manifest_is_validated_before_anything_is_extracted(run_copy, run_cli, tmp_path):
    archive = tmp_path / "run.zip"
    assert run_cli("pack", run_copy, archive).code == 0
    cases = {
        "null": (dict(manifest=lambda m: {**m, "files": None}), "must map every member"),
        "fewer": (dict(manifest=lambda m: {**m, "files": {k: v for k, v in m["files"].items() if k != "best.pt"}}),
                  "members not in the manifest: best.pt"),
        "unlisted": (dict(extra={"evil.py": b"print(1)"}), "members not in the manifest: evil.py"),
        "absent": (dict(drop=("split.json",)), "listed files missing: split.json"),
        "symlink": (dict(link="metrics2.csv"), "symbolic links: metrics2.csv"),
    }
    for name, (change, message) in cases.items():
        bad = _repack(archive, tmp_path / f"{name}.zip", **change)
        dest = tmp_path / f"out-{name}"
        _one_line(run_cli("unpack", bad, dest), message)
        assert not dest.exists() and not temporaries(tmp_path)


def test_pack_refuses_a_damaged_checkpoint(run_copy, run_cli, tmp_path):
    data = (run_copy / "best.pt").read_bytes()
    (run_copy / "best.pt").write_bytes(data[: len(data) // 2])
    _one_line(run_cli("pack", run_copy, tmp_path / "run.zip"), "best.pt", "cannot load checkpoint")
    assert not (tmp_path / "run.zip").exists()


# 4-5. tracebacks become one line; unchecked values are refused ------------------------------------------------------


def test_resume_with_another_network_is_one_line(run_copy, phantoms, run_cli):
    _one_line(run_cli("train", "--data", phantoms, "--out", run_copy, "--resume", "--set", "model.base_features=16"),
              "model.base_features: 16 now, 4 in the run")


def test_a_checkpoint_write_that_torch_reports_as_runtimeerror_is_one_line(phantoms, run_cli, tmp_path, monkeypatch):
    def full(obj, f, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:595] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed")

    monkeypatch.setattr(torch, "save", full)
    run = tmp_path / "run"
    sets = [a for s in TINY + [f"data.cache_dir={tmp_path / 'cache'}"] for a in ("--set", s)]
    _one_line(run_cli("train", "--data", phantoms, "--out", run, *sets), "cannot write", "is the disk full?")
    assert not (run / "last.pt").exists() and not temporaries(tmp_path)


@pytest.mark.parametrize("z", ["500", "-3", "16"])
def test_report_slice_out_of_range_is_one_line(run_copy, run_cli, z):
    _one_line(run_cli("report", run_copy, "--slice", z), f"--slice {z}", "axial slices 0..15")


@pytest.mark.parametrize("sets, message", [
    (["loss={dice: -1.0}"], "loss.terms.dice: weight -1.0 must be positive"),
    (["loss={dice: 1.0, ce: 0.0}"], "loss.terms.ce: weight 0.0 must be positive"),
    (["loss.class_weights=[1, -1, 1, 1]"], "loss.class_weights"),
])
def test_loss_weights_are_checked_on_load(phantoms, run_cli, tmp_path, sets, message):
    args = [a for s in TINY + sets for a in ("--set", s)]
    _one_line(run_cli("train", "--data", phantoms, "--out", tmp_path / "run", *args), message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, message", [(["--cases", "-2"], "--cases -2"), (["--cases", "0"], "--cases 0"),
                                           (["--shape", "0", "8", "8"], "--shape [0, 8, 8]")])
def test_synth_refuses_impossible_requests(run_cli, tmp_path, args, message):
    _one_line(run_cli("synth", tmp_path / "out", *args), message)
    assert not (tmp_path / "out").exists()


def test_study_without_seeds_is_one_line(phantoms, run_cli, tmp_path):
    (tmp_path / "s.yaml").write_text("name: s\nseeds: []\nvariants: {ce: {loss: ce}}\n")
    _one_line(run_cli("study", tmp_path / "s.yaml", "--data", phantoms, "--out", tmp_path / "out"),
              "seeds: expected a non-empty list")


def test_predict_arrays_takes_numpy_s_default_integers_and_refuses_masks(tiny_run):
    import brats_unet as bu

    run = bu.load_run(tiny_run)
    rng = np.random.default_rng(0)
    vol = np.zeros((40, 40, 16), np.int64)
    vol[8:32, 8:32, 2:14] = rng.integers(100, 1000, (24, 24, 12))
    labels = bu.predict_arrays(run, {"flair": vol, "t1ce": vol.copy()})
    assert labels.shape == (40, 40, 16) and labels.dtype == np.uint8
    with pytest.raises(DataError, match=r"images\['flair'\]: expected a 3D numeric volume.*bool"):
        bu.predict_arrays(run, {"flair": vol > 500, "t1ce": vol})
    with pytest.raises(DataError, match="expected a 3D numeric volume"):
        bu.predict_arrays(run, {"flair": vol[..., 0], "t1ce": vol[..., 0]})


def test_score_checks_its_arrays_and_spacing():
    import brats_unet as bu

    a = np.zeros((8, 8, 4), np.uint8)
    a[2:5, 2:5, 1:3] = 2
    with pytest.raises(DataError, match="prediction: expected a 3D label map"):
        bu.score(a[..., 0], a[..., 0])
    for spacing in ((0, 1, 1), (1, 1), (1, float("nan"), 1), (-1, 1, 1)):
        with pytest.raises(DataError, match="spacing: expected three positive voxel sizes"):
            bu.score(a, a, spacing=spacing)
    assert bu.score(a, a)["WT"]["dice"] == 1.0


@pytest.mark.slow
def test_a_damaged_onnx_export_falls_back_or_is_one_line(run_copy, phantoms, run_cli, tmp_path):
    pytest.importorskip("onnxruntime")
    assert run_cli("export", run_copy, "--format", "onnx").code == 0
    data = (run_copy / "model.onnx").read_bytes()
    (run_copy / "model.onnx").write_bytes(data[: len(data) // 3])
    auto = run_cli("predict", run_copy, phantoms / "Synth_001", "--out", tmp_path / "a", "--set",
                   "eval.precision=fp32")
    assert auto.code == 0 and "cannot be loaded by ONNX Runtime" in auto.err and "Traceback" not in auto.err
    _one_line(run_cli("predict", run_copy, phantoms / "Synth_001", "--out", tmp_path / "b", "--set",
                      "eval.engine=onnxruntime"), "model.onnx: cannot be loaded by ONNX Runtime", "export it again")


# 6. kill -9 before the first checkpoint ----------------------------------------------------------------------------


def test_resume_of_a_run_killed_before_its_first_checkpoint_says_how_to_start(run_copy, phantoms, run_cli, tmp_path):
    for name in ("best.pt", "last.pt", "metrics.csv"):
        (run_copy / name).unlink()
    shutil.rmtree(run_copy / "figures", ignore_errors=True)
    _one_line(run_cli("train", "--data", phantoms, "--out", run_copy, "--resume"),
              "holds no checkpoint", "nothing to resume; start it without --resume")
    _one_line(run_cli("train", "--data", phantoms, "--out", tmp_path / "never", "--resume"),
              "does not exist: nothing to resume")
    sets = [a for s in TINY for a in ("--set", s)]
    assert run_cli("train", "--data", phantoms, "--out", run_copy, *sets).code == 0
    assert (run_copy / "last.pt").exists()


# 7. layouts, tiny volumes, brain masks ------------------------------------------------------------------------------


def test_brats2018_download_layout_with_grade_folders_is_discovered(phantoms, tmp_path):
    from brats_unet.data.discovery import discover_cases

    root = tmp_path / "MICCAI_BraTS_2018_Data_Training"
    for grade, cases in (("HGG", ("Synth_001", "Synth_002")), ("LGG", ("Synth_003",))):
        for case in cases:
            shutil.copytree(phantoms / case, root / grade / case)
    assert [c.case_id for c in discover_cases(root)] == ["Synth_001", "Synth_002", "Synth_003"]


def test_an_all_ones_brain_mask_warns(run_copy, phantoms, run_cli, tmp_path):
    f = _files(phantoms, "Synth_001")
    img = nib.load(str(f["flair"]))
    mask = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones(img.shape, np.uint8), img.affine), str(mask))
    result = run_cli("predict", run_copy, "--flair", f["flair"], "--t1ce", f["t1ce"], "--brain-mask", mask,
                     "--out", tmp_path / "pred")
    assert result.code == 0 and "the brain mask covers the whole volume" in result.err
