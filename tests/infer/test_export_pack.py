"""export (ONNX checked with onnxruntime, TorchScript) and pack/unpack, on a run trained on real cases."""

import json
import zipfile

import nibabel as nib
import numpy as np
import pytest
import torch

import brats_unet as bu
from brats_unet.models import ARCHITECTURES


def _slices(sample_dir, run):
    """Preprocessed real slices as the run sees them (B, C, H, W)."""
    from brats_unet.data.discovery import discover_cases
    from brats_unet.data.preprocess import preprocess_case

    case = next(c for c in discover_cases(sample_dir) if c.case_id == "Brats18_TCIA02_135_1")
    image = preprocess_case(case, run.cfg.data, with_seg=False, multiple=run.cfg.model.multiple).image
    return torch.from_numpy(image.astype(np.float32)).transpose(0, 1)[30:36]


@pytest.mark.slow
def test_onnx_export_matches_pytorch(sample_run, sample_dir, run_cli, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    out = tmp_path / "model.onnx"
    result = run_cli("export", sample_run, "--format", "onnx", "--out", out)
    assert result.code == 0, result.err
    run = bu.load_run(sample_run, device="cpu")
    x = _slices(sample_dir, run)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = run.model(x).numpy()
    got = session.run(None, {"image": x.numpy()})[0]
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-3
    bigger = torch.nn.functional.pad(x[:3], (0, 32, 0, 16))  # another batch and size, multiples of 2**depth
    with torch.no_grad():
        assert np.abs(session.run(None, {"image": bigger.numpy()})[0] - run.model(bigger).numpy()).max() < 1e-3
    card = json.loads((tmp_path / "model.onnx.json").read_text())
    assert card["channels"] == ["flair", "t1ce"] and card["spatial_multiple"] == 2**run.cfg.model.depth


def test_torchscript_export_matches_pytorch(sample_run, sample_dir, run_cli, tmp_path):
    assert run_cli("export", sample_run, "--format", "torchscript", "--out", tmp_path / "m.pt").code == 0
    run = bu.load_run(sample_run, device="cpu")
    x = _slices(sample_dir, run)
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    with torch.no_grad():
        assert torch.allclose(loaded(x), run.model(x), atol=1e-5)


@pytest.mark.slow
def test_pack_predicts_as_it_is_and_unpacks(sample_run, sample_dir, run_cli, tmp_path):
    case = sample_dir / "Brats18_TCIA02_135_1"
    packed = tmp_path / "run.zip"
    assert run_cli("pack", sample_run, packed).code == 0
    assert sorted(zipfile.ZipFile(packed).namelist()) == ["PACK.json", "best.pt", "config.yaml", "metrics.csv",
                                                          "run.json", "signatures.json", "split.json"]
    assert run_cli("predict", sample_run, case, "--out", tmp_path / "a", "--quiet").code == 0
    assert run_cli("predict", packed, case, "--out", tmp_path / "b", "--quiet").code == 0
    a, b = (np.asarray(nib.load(str(tmp_path / d / f"{case.name}_seg.nii.gz")).dataobj) for d in "ab")
    assert np.array_equal(a, b)
    assert run_cli("unpack", packed, tmp_path / "unpacked").code == 0
    assert (tmp_path / "unpacked" / "best.pt").read_bytes() == (sample_run / "best.pt").read_bytes()
    again = run_cli("unpack", packed, tmp_path / "unpacked")
    assert again.code == 2 and "is not an empty folder" in again.error_lines[0]


def test_damaged_or_foreign_zip_is_refused(sample_run, run_cli, tmp_path):
    packed = tmp_path / "run.zip"
    assert run_cli("pack", sample_run, packed).code == 0
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
        zf.writestr("PACK.json", "{}")
    result = run_cli("unpack", evil, tmp_path / "x")
    assert result.code == 2 and "not a packed run" in result.error_lines[0]
    assert not (tmp_path / "escape.txt").exists()
    data = bytearray(packed.read_bytes())
    with zipfile.ZipFile(packed) as zf:
        info = zf.getinfo("config.yaml")
    data[info.header_offset + 60] ^= 0xFF  # flip a byte inside a stored file
    packed.write_bytes(bytes(data))
    result = run_cli("unpack", packed, tmp_path / "y")
    assert result.code == 2 and len(result.error_lines) == 1


def _random_run(folder, overrides):
    """A run folder with untrained weights of the configured network."""
    from brats_unet.config import load_config, save_yaml, to_dict
    from brats_unet.models import build_model

    cfg = load_config(overrides=overrides)
    folder.mkdir(parents=True)
    save_yaml(to_dict(cfg), folder / "config.yaml")
    torch.save({"model": build_model(cfg.model, cfg.in_channels, cfg.num_classes).state_dict()}, folder / "best.pt")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_2d_architecture_exports_a_graph_that_agrees(arch, tmp_path):
    """export checks the graph against PyTorch itself (predict may run it instead of the checkpoint)."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from brats_unet.infer.export import export_run

    sets = [f"model.arch={arch}", "model.base_features=4", "model.depth=3", "model.norm=instance",
            "model.activation=leaky_relu", "model.upsample=transpose", "loss.mode=regions", "loss=dice"]
    run = bu.load_run(_random_run(tmp_path / arch, sets), device="cpu", overrides=["eval.engine=torch"])
    path = export_run(run, tmp_path / "model.onnx", "onnx")
    assert path.is_file() and json.loads((tmp_path / "model.onnx.json").read_text())["outputs"] == ["WT", "TC", "ET"]


@pytest.mark.slow
def test_predict_runs_instance_norm_as_group_norm_on_the_cpu_and_export_keeps_it(tmp_path, monkeypatch):
    """On the CPU predict runs the faster GroupNorm(C, C) in place of InstanceNorm2d; `brats-unet export` writes
    the network as trained (ONNX Runtime ran the InstanceNorm graph faster: benchmarks/RESULTS.md)."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from brats_unet.cli import main
    from brats_unet.infer import export

    run = _random_run(tmp_path / "run", ["model.base_features=4", "model.depth=3", "model.norm=instance"])
    norms = (torch.nn.InstanceNorm2d, torch.nn.GroupNorm)

    def kinds(model):
        return {type(m) for m in model.modules() if type(m) in norms}

    assert kinds(bu.load_run(run, device="cpu").model) == {torch.nn.GroupNorm}
    assert kinds(bu.load_run(run, device="cpu", as_trained=True).model) == {torch.nn.InstanceNorm2d}
    exported, original = [], export.export_run

    def spy(run, *args, **kwargs):
        exported.append(kinds(run.model))
        return original(run, *args, **kwargs)

    monkeypatch.setattr(export, "export_run", spy)
    assert main(["export", str(run), "--format", "onnx"]) == 0
    assert exported == [{torch.nn.InstanceNorm2d}] and (run / "model.onnx").is_file()


@pytest.mark.slow
def test_a_graph_that_disagrees_with_pytorch_is_not_written(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    import copy

    from brats_unet.errors import DataError
    from brats_unet.infer import export

    original = export._onnx

    def other_weights(model, *args):  # as if the exporter had mistranslated an operator
        changed = copy.deepcopy(model)
        with torch.no_grad():
            for p in changed.parameters():
                p.add_(0.5)
        original(changed, *args)

    monkeypatch.setattr(export, "_onnx", other_weights)
    run = bu.load_run(_random_run(tmp_path / "run", ["model.base_features=4", "model.depth=3"]), device="cpu")
    with pytest.raises(DataError, match="disagrees with PyTorch"):
        export.export_run(run, tmp_path / "model.onnx", "onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
