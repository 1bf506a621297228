"""A training step's metrics: kept on the device, counted against the labels it trained on."""

import math

import pytest
import torch

from brats_unet.config import load_config
from brats_unet.data.augment import AUGMENTATIONS
from brats_unet.data.datasets import collate_pad
from brats_unet.train.loop import Trainer
from tests.conftest import TINY


def _trainer(phantoms, tmp_path, *extra):
    cfg = load_config(overrides=TINY + [f"data.cache_dir={tmp_path / 'cache'}", *extra])
    return Trainer(cfg, phantoms, tmp_path / "run", progress=False)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_step_counts_against_the_augmented_labels(phantoms, tmp_path, name):
    trainer = _trainer(phantoms, tmp_path, "data.augment=true", f"data.augmentation={name}")
    images, labels = collate_pad([trainer.train_data[i] for i in trainer.train_data.tumour_indices[:4]])
    loss, counts = trainer._step(images, labels, torch.Generator().manual_seed(7))
    assert loss.dim() == 0 and counts.shape == (4, 4)  # tensors: nothing read back per step
    _, augmented = AUGMENTATIONS[name](images, labels, torch.Generator().manual_seed(7))
    hist = [t.reshape(-1).bincount(minlength=4) for t in (augmented, labels)]
    assert not torch.equal(*hist)  # the augmentation changed the label histogram
    assert torch.equal(counts.sum(1), augmented.reshape(-1).bincount(minlength=4))  # rows: the trained-on labels


def test_epoch_reads_loss_and_pooled_metrics_once(phantoms, tmp_path):
    row = _trainer(phantoms, tmp_path)._train_epoch(0, math.inf)
    assert math.isfinite(row["loss"]) and 0 <= row["accuracy"] <= 1 and 0 <= row["dice"] <= 1
