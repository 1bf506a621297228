"""eval.precision: the arithmetic a trained run predicts in, chosen at prediction time (the run's
train.precision otherwise)."""

import nibabel as nib
import numpy as np
import pytest

import brats_unet as bu
from brats_unet.errors import ConfigError

CASE = "Brats18_TCIA02_135_1"


def _fast_bf16(monkeypatch, fast: bool) -> None:
    monkeypatch.setattr("brats_unet.device.cpu_has_fast_bf16", lambda: fast)


def test_eval_precision_overrides_the_runs_training_precision(sample_run, monkeypatch):
    assert bu.load_run(sample_run, device="cpu").cfg.train.precision == "auto"
    _fast_bf16(monkeypatch, True)
    assert bu.load_run(sample_run, device="cpu").precision == "bf16"  # auto: as trained on this CPU
    assert bu.load_run(sample_run, device="cpu", overrides=["eval.precision=fp32"]).precision == "fp32"
    _fast_bf16(monkeypatch, False)
    assert bu.load_run(sample_run, device="cpu").precision == "fp32"
    assert bu.load_run(sample_run, device="cpu", overrides=["eval.precision=bf16"]).precision == "bf16"


def test_fp16_on_the_cpu_names_eval_precision(sample_run, sample_dir, run_cli, tmp_path):
    with pytest.raises(ConfigError, match="eval.precision=fp16 needs a CUDA device"):
        bu.load_run(sample_run, device="cpu", overrides=["eval.precision=fp16"])
    out = tmp_path / "out"
    result = run_cli("predict", sample_run, sample_dir / CASE, "--out", out, "--device", "cpu", "--quiet",
                     "--set", "eval.precision=half")
    assert result.code == 2 and len(result.error_lines) == 1 and "eval.precision" in result.err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_fp32_on_a_bf16_cpu_gives_the_plain_cpus_mask(sample_run, sample_dir, run_cli, tmp_path, monkeypatch):
    """The same mask as a CPU without bf16 computes: the setting reaches the network's arithmetic."""
    masks = {}
    for fast, extra in ((False, []), (True, ["--set", "eval.precision=fp32"])):
        _fast_bf16(monkeypatch, fast)
        out = tmp_path / f"fast{fast}"
        result = run_cli("predict", sample_run, sample_dir / CASE, "--out", out, "--device", "cpu", "--quiet",
                         "--set", "eval.engine=torch", *extra)
        assert result.code == 0, result.err
        masks[fast] = np.asarray(nib.load(str(out / f"{CASE}_seg.nii.gz")).dataobj)
    assert (masks[False] > 0).sum() > 100  # the run finds tumour here, so equality means something
    np.testing.assert_array_equal(masks[True], masks[False])
