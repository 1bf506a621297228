"""eval.engine: predict through ONNX Runtime on an export of the run's checkpoint, never on a stale one."""

import json
import shutil

import nibabel as nib
import numpy as np
import pytest
import torch

import brats_unet as bu
from brats_unet.atomic_files import sha256_file
from brats_unet.errors import ConfigError, DataError
from brats_unet.infer.backend import choose_engine

CASE = "Brats18_TCIA02_135_1"
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


@pytest.fixture(scope="module")
def exported(sample_run, tmp_path_factory):
    """A copy of the sample run with `brats-unet export RUN --format onnx` done (RUN/model.onnx)."""
    from brats_unet.cli import main

    run = tmp_path_factory.mktemp("engine") / "run"
    shutil.copytree(sample_run, run)
    assert main(["export", str(run), "--format", "onnx"]) == 0
    return run


def _mask(folder):
    return np.asarray(nib.load(str(folder / f"{CASE}_seg.nii.gz")).dataobj)


@pytest.mark.slow
def test_the_card_names_the_exported_checkpoint(exported):
    card = json.loads((exported / "model.onnx.json").read_text())
    assert card["checkpoint"] == "best.pt" and card["checkpoint_sha256"] == sha256_file(exported / "best.pt")


def test_auto_runs_onnxruntime_only_for_fp32_on_the_cpu(exported):
    best, cpu = exported / "best.pt", torch.device("cpu")
    assert choose_engine("auto", exported, best, cpu, "fp32")[0] == exported / "model.onnx"
    assert choose_engine("auto", exported, best, cpu, "bf16")[0] is None  # PyTorch bf16 measured faster
    assert choose_engine("auto", exported, best, torch.device("cuda"), "bf16")[0] is None
    assert choose_engine("torch", exported, best, cpu, "fp32")[0] is None
    with pytest.raises(ConfigError, match="--device cpu"):
        choose_engine("onnxruntime", exported, best, torch.device("cuda"), "bf16")


@pytest.mark.slow
def test_onnxruntime_masks_match_pytorch_on_a_real_case(exported, sample_dir, run_cli, tmp_path, monkeypatch):
    case = sample_dir / CASE
    # PyTorch in fp32 like the graph (as on a CPU without native bf16, where `auto` picks ONNX Runtime): this
    # test is about the engine, not about bf16, which moves the boundary of this briefly trained run's tumour
    # by a few percent of its voxels (tests/infer/test_whole_case.py compares bf16 with fp32 on a longer-trained run)
    monkeypatch.setattr("brats_unet.device.cpu_has_fast_bf16", lambda: False)
    for engine in ("torch", "onnxruntime"):
        result = run_cli("predict", exported, case, "--out", tmp_path / engine, "--quiet", "--set",
                         f"eval.engine={engine}")
        assert result.code == 0, result.err
    assert bu.load_run(exported, device="cpu", overrides=["eval.engine=onnxruntime"]).engine == "onnxruntime"
    a, b = _mask(tmp_path / "torch"), _mask(tmp_path / "onnxruntime")
    assert (a == b).mean() > 0.9999  # the same fp32 arithmetic up to kernel order: a few boundary voxels at most
    assert (a > 0).sum() > 100  # the run finds tumour in this case, so the agreement means something
    assert 2 * ((a > 0) & (b > 0)).sum() / ((a > 0).sum() + (b > 0).sum()) >= 0.99


def test_a_stale_export_is_never_used(exported, tmp_path, sample_dir, run_cli):
    run = tmp_path / "run"
    shutil.copytree(exported, run)
    state = torch.load(run / "best.pt", weights_only=True)
    state["model"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in state["model"].items()}
    torch.save(state, run / "best.pt")  # retrained since the export
    assert choose_engine("auto", run, run / "best.pt", torch.device("cpu"), "fp32")[0] is None
    with pytest.raises(DataError, match="exported from another checkpoint"):
        choose_engine("onnxruntime", run, run / "best.pt", torch.device("cpu"), "fp32")
    assert bu.load_run(run, device="cpu").engine == "torch"
    result = run_cli("predict", run, sample_dir / CASE, "--out", tmp_path / "out", "--set",
                     "eval.engine=onnxruntime")
    assert result.code == 2 and "export again: brats-unet export" in result.error_lines[0]
    assert not (tmp_path / "out" / f"{CASE}_seg.nii.gz").exists()


def test_onnxruntime_without_an_export_says_how_to_make_one(sample_run, sample_dir, run_cli, tmp_path):
    assert not (sample_run / "model.onnx").exists()
    result = run_cli("predict", sample_run, sample_dir / CASE, "--out", tmp_path / "out", "--set",
                     "eval.engine=onnxruntime")
    assert result.code == 2 and f"brats-unet export {sample_run} --format onnx" in result.error_lines[0]
    assert bu.load_run(sample_run, device="cpu").engine == "torch"


def test_the_engine_note_says_which_engine_and_how_to_get_the_faster_one(exported, sample_run, sample_dir, run_cli,
                                                                        tmp_path):
    cpu = torch.device("cpu")
    hint = choose_engine("auto", sample_run, sample_run / "best.pt", cpu, "fp32")[1]
    assert hint.startswith("engine: PyTorch, fp32 on cpu") and f"brats-unet export {sample_run} --format onnx" in hint
    assert choose_engine("auto", sample_run, sample_run / "best.pt", cpu, "bf16")[1] == "engine: PyTorch, bf16 on cpu"
    result = run_cli("predict", exported, sample_dir / CASE, "--out", tmp_path, "--set", "eval.engine=onnxruntime")
    assert result.code == 0 and f"engine: ONNX Runtime on {exported / 'model.onnx'}" in result.err
