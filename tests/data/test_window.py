"""data.window: fixed-size 2D training windows at native resolution, tumour-centred on tumour slices."""

import numpy as np
import pytest
import torch

from brats_unet.config import load_config
from brats_unet.data.datasets import SliceDataset, window_start
from brats_unet.errors import ConfigError
from brats_unet.train.loop import Trainer

WINDOW = (64, 48)


@pytest.fixture(scope="module")
def datasets(sample_cache):
    ids = sample_cache.case_ids[:2]
    return SliceDataset(sample_cache, ids), SliceDataset(sample_cache, ids, window=WINDOW, seed=3)


def test_every_tumour_slice_window_holds_tumour_and_has_the_window_size(datasets):
    plain, windowed = datasets
    assert len(windowed.tumour_indices) > 20
    for i in windowed.tumour_indices:
        image, label = windowed[int(i)]
        assert image.shape == (plain[int(i)][0].shape[0], *WINDOW) and label.shape == WINDOW
        assert (label > 0).any(), i


def test_image_and_label_are_cut_at_the_same_place(datasets):
    plain, windowed = datasets
    for i in list(windowed.tumour_indices[:5]) + [0, 3]:
        i = int(i)
        image, label = plain[i]
        start = window_start(label.numpy(), np.random.default_rng((3, 0, i)), WINDOW)
        (y, x), (h, w) = start, WINDOW
        assert 0 <= y <= label.shape[0] - h and 0 <= x <= label.shape[1] - w  # these slices are larger
        got_image, got_label = windowed[i]
        assert torch.equal(got_label, label[y : y + h, x : x + w])
        assert torch.equal(got_image, image[:, y : y + h, x : x + w])


def test_placement_is_a_function_of_seed_epoch_and_index(datasets):
    _, windowed = datasets
    i = int(windowed.tumour_indices[0])
    first = windowed[i][1]
    assert torch.equal(first, windowed[i][1])
    moved = False
    for epoch in range(1, 6):
        windowed.set_epoch(epoch)
        moved |= not torch.equal(first, windowed[i][1])
    windowed.set_epoch(0)
    assert moved


def test_window_needs_native_slices_a_2d_model_and_multiples():
    assert load_config(overrides=["data.mode=crop", "data.window=[128, 96]"]).data.window == (128, 96)
    for bad in (["data.window=[128, 96]"], ["data.mode=crop", "data.window=[120, 96]"],
                ["data.mode=crop", "data.window=[128, 96]", "model.spatial_dims=3"]):
        with pytest.raises(ConfigError, match="data.window"):
            load_config(overrides=bad)


@pytest.mark.slow
def test_the_trainer_batches_are_windows(sample_dir, tmp_path):
    cfg = load_config(overrides=["data.max_cases=4", "data.mode=crop", "data.window=[64, 48]", "data.slices=[40, 120]",
                                 "train.batch_size=4", "train.steps_per_epoch=2", "train.epochs=1",
                                 "model.base_features=4", "model.depth=3", "data.oversample=0.5"])
    trainer = Trainer(cfg, sample_dir, tmp_path / "run", progress=False)
    images, labels = next(iter(trainer._batches(0)))
    assert images.shape == (4, 2, 64, 48) and labels.shape == (4, 64, 48)
    trainer.fit()
    assert (tmp_path / "run" / "last.pt").exists()
