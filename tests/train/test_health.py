"""A run that collapses to background says so (the Dice-without-normalisation failure of the losses study)."""

import math

import numpy as np
import torch

from brats_unet.config import load_config
from brats_unet.train.health import collapse_message
from brats_unet.train.loop import Trainer
from tests.conftest import TINY


def test_collapse_only_when_labels_hold_tumour_and_predictions_none():
    m = np.zeros((4, 4), dtype=np.int64)
    m[0, 0] = 90
    assert collapse_message(m, 0) is None  # no tumour in the labels: nothing to miss
    m[2, 0] = 10  # ten edema pixels, all predicted background
    message = collapse_message(m, 4)
    assert message is not None and "epoch 5" in message and "10.00 %" in message and "model.norm" in message
    m[3, 1] = 1  # one enhancing pixel predicted as core: some tumour is predicted, no collapse
    assert collapse_message(m, 0) is None
    m2 = np.zeros((4, 4), dtype=np.int64)
    m2[0, 3] = 5  # background predicted as tumour, no tumour labels
    assert collapse_message(m2, 0) is None


class _Background(torch.nn.Module):
    """Wraps a network so every pixel comes out background with saturated logits (keeps the graph)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        out = self.net(x) * 0
        return out + torch.tensor([1e4, 0, 0, 0], dtype=out.dtype).view(1, 4, 1, 1)


def test_a_collapsed_epoch_warns_on_stderr(phantoms, tmp_path, capsys):
    cfg = load_config(overrides=TINY + [f"data.cache_dir={tmp_path / 'cache'}", "data.oversample=1.0"])
    trainer = Trainer(cfg, phantoms, tmp_path / "run", progress=False)
    trainer._train_epoch(0, math.inf)
    assert "collapsed" not in capsys.readouterr().err
    trainer.model = _Background(trainer.net)
    trainer._train_epoch(1, math.inf)
    assert "epoch 2: the model predicted no tumour" in capsys.readouterr().err
