"""The budget-aware poly schedule and the precision choices (CUDA cases run only where a GPU is present)."""

from types import SimpleNamespace

import pytest
import torch

from brats_unet.config import load_config
from brats_unet.device import cpu_has_fast_bf16, machine_name, resolve_precision
from brats_unet.errors import ConfigError
from brats_unet.runs.folder import read_metrics
from brats_unet.train.loop import Trainer, train

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _spent(epochs_done, elapsed_s, **train_sets):
    cfg = load_config(overrides=[f"train.{k}={v}" for k, v in train_sets.items()])
    return Trainer.budget_spent(SimpleNamespace(cfg=cfg, elapsed=elapsed_s), epochs_done)


def test_budget_spent_follows_epochs_without_time_budget():
    assert _spent(5, 9999.0, epochs=20) == pytest.approx(0.25)


def test_budget_spent_follows_the_clock_when_it_ends_first():
    # 3 of 1000 epochs, but 6 of 10 minutes gone: the schedule must be 60 % through, not 0.3 %
    assert _spent(3, 360.0, epochs=1000, max_minutes=10) == pytest.approx(0.6)
    assert _spent(900, 60.0, epochs=1000, max_minutes=10) == pytest.approx(0.9)  # epochs end first
    assert _spent(1000, 600.0, epochs=1000, max_minutes=10) < 1  # the rate stays positive


@pytest.mark.slow
def test_poly_anneals_within_a_time_budget(sample_dir, tmp_path):
    sets = ["data.max_cases=4", "data.size=64", "data.slices=[60, 100]", "train.batch_size=4",
            "train.steps_per_epoch=2", "train.epochs=1000", "train.max_minutes=0.25", "model.base_features=8",
            "train.schedule=poly", "train.device=cpu"]
    train(load_config(overrides=sets), sample_dir, tmp_path / "run", progress=False)
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run")]
    assert len(lrs) >= 3 and lrs[0] == pytest.approx(1e-3)
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] < 0.9e-3  # an epoch-based poly over 1000 epochs would still be above 0.99e-3


def test_precision_choices_on_cpu():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", cpu)


@pytest.mark.parametrize("x86, onednn, avx512_bf16, amx, fast", [
    (True, True, False, False, False),  # oneDNN emulates bf16 on any AVX-512 core: 2x slower than fp32 there
    (True, True, True, False, True),  # Zen 4/5, Cooper Lake
    (True, True, False, True, True),  # AMX (Sapphire Rapids and later)
    (True, False, True, True, False),
    (False, True, False, False, True),  # Arm: oneDNN says yes only with the BF16 extension
])
def test_auto_picks_bf16_on_a_cpu_only_where_it_is_native(monkeypatch, x86, onednn, avx512_bf16, amx, fast):
    monkeypatch.setattr("brats_unet.device._x86", lambda: x86)
    monkeypatch.setattr("brats_unet.device._onednn_bf16", lambda: onednn)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert cpu_has_fast_bf16() is fast
    assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if fast else "fp32")
    assert machine_name().endswith(", native bf16") is fast


@CUDA
def test_precision_choices_on_cuda():
    gpu = torch.device("cuda")
    assert resolve_precision("fp16", gpu) == "fp16"
    assert resolve_precision("auto", gpu) == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")


@CUDA
@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_cuda_training_is_finite_and_learns(sample_dir, tmp_path, precision):
    sets = ["data.max_cases=4", "data.size=64", "data.slices=[50, 110]", "train.batch_size=8",
            "train.steps_per_epoch=10", "train.epochs=3", "model.base_features=8", "data.oversample=0.5",
            "data.augment=true", "train.device=cuda", f"train.precision={precision}"]
    train(load_config(overrides=sets), sample_dir, tmp_path / "run", progress=False)
    rows = read_metrics(tmp_path / "run")
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in rows)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
