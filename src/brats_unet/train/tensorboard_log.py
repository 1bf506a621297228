"""Where a run's per-epoch record goes besides ``metrics.csv`` (always written): TensorBoard on request.

``train.log: [csv, tensorboard]`` writes ``RUN/tensorboard/`` event files: every number of the epoch's
metrics row as a scalar, and one overlay per validation epoch (FLAIR of a tumour slice of the first
validation case; left the prediction, right the reference; red core, green edema, yellow enhancing).
TensorBoard is an optional extra (``pip install 'brats-unet[tensorboard]'``), never required.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..brats import CLASS_COLOURS
from ..config import Config
from ..data.cache import SliceCache
from ..data.neighbour_slices import neighbours
from ..errors import ConfigError
from ..infer.whole_case import predict_slices, to_labels
from ..plots import grey


def overlay_rgb(flair: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(H, W) image and internal labels -> (H, W, 3) float RGB in [0, 1], classes blended over the image."""
    rgb = np.repeat(grey(flair, flair)[..., None], 3, axis=-1)
    for code, colour in CLASS_COLOURS.items():
        mask = labels == code
        rgb[mask] = (1 - alpha) * rgb[mask] + alpha * np.asarray(colour)
    return rgb


class TensorBoardSink:
    """Scalars and a validation overlay per epoch into ``run_dir/tensorboard``."""

    def __init__(self, run_dir: Path, first_epoch: int):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("train.log: tensorboard needs the tensorboard package: "
                              "pip install 'brats-unet[tensorboard]' (or remove it from train.log)") from None
        # purge_step drops events a killed run wrote after its last checkpoint, so a resume does not repeat them
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=first_epoch + 1)

    def epoch(self, row: dict[str, Any], image: Optional[np.ndarray]) -> None:
        step = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and np.isfinite(value):
                split, _, name = key.partition("_")
                self.writer.add_scalar(f"{split}/{name}" if name else key, value, step)
        if image is not None:
            self.writer.add_image("validation/overlay", image, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def validation_overlay(model: torch.nn.Module, cache: SliceCache, case_id: str, cfg: Config,
                       device: torch.device, precision: str) -> Optional[np.ndarray]:
    """Prediction | reference on the middle tumour slice of ``case_id`` (model space), (H, 2W, 3) RGB."""
    if cfg.model.spatial_dims != 2:
        return None
    tumour = cache.meta(case_id).tumour_slices
    volume = cache.image(case_id)
    z = tumour[len(tumour) // 2] if tumour else volume.shape[1] // 2
    k = cfg.data.context  # 2.5D: the slice's window, whose middle slice sees the same neighbours as in training
    image = torch.from_numpy(np.asarray(volume[:, neighbours(volume.shape[1], k)[z]], np.float32))
    logits = predict_slices(model, image, device, precision, 1, cfg.train.channels_last, multiple=cfg.model.multiple,
                            context=k)
    pred = to_labels(logits, cfg.loss.mode, decode=cfg.eval.decode)[k].numpy()
    flair = image[0, k].numpy()
    ref = np.asarray(cache.seg(case_id)[z])
    return np.concatenate([overlay_rgb(flair, pred), overlay_rgb(flair, ref)], axis=1).astype(np.float32)


def open_sinks(cfg: Config, run_dir: Path, first_epoch: int) -> list[TensorBoardSink]:
    """The sinks ``train.log`` asks for (``csv`` is metrics.csv, written in any case)."""
    return [TensorBoardSink(run_dir, first_epoch)] if "tensorboard" in cfg.train.log else []
