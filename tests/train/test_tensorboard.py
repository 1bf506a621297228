"""train.log: [csv, tensorboard] on real cases: scalars per epoch and an overlay image per validation epoch."""

import pytest

from brats_unet.config import load_config
from brats_unet.errors import ConfigError
from brats_unet.runs.folder import read_metrics
from brats_unet.train.loop import train

from ..conftest import QUICK


@pytest.mark.slow
def test_tensorboard_events_hold_every_epoch(sample_dir, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    train(load_config(overrides=QUICK + ["train.log=[csv, tensorboard]"]), sample_dir, run, progress=False)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0}).Reload()
    rows = read_metrics(run)
    loss = events.Scalars("val/loss")
    assert [e.step for e in loss] == [1, 2]
    assert [e.value for e in loss] == pytest.approx([r["val_loss"] for r in rows], rel=1e-6)
    assert {"train/loss", "val/WT", "val/dice_mean", "lr"} <= set(events.Tags()["scalars"])
    images = events.Images("validation/overlay")
    assert [i.step for i in images] == [1, 2] and images[0].width == 2 * images[0].height == 128
    assert (run / "metrics.csv").exists()  # csv is written whatever train.log says


def test_tensorboard_missing_is_a_config_error(sample_dir, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ConfigError, match=r"pip install 'brats-unet\[tensorboard\]'"):
        train(load_config(overrides=QUICK + ["train.log=[tensorboard]"]), sample_dir, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
