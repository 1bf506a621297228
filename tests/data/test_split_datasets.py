import json

import numpy as np
import pytest
import torch

from brats_unet.data.augment import augment_batch
from brats_unet.data.datasets import PatchDataset, SliceDataset, collate_pad, sample_indices
from brats_unet.data.split import load_split, make_split, split_counts
from brats_unet.errors import DataError

PAPER = (0.6775, 0.2005, 0.1220)


def test_split_counts_match_the_paper():
    assert split_counts(369, PAPER) == (250, 74, 45)
    assert split_counts(16, PAPER) == (11, 3, 2)
    assert split_counts(3, PAPER) == (1, 1, 1)


def test_split_is_disjoint_complete_and_reproducible():
    ids = [f"case{i:03d}" for i in range(369)]
    a, b = make_split(ids, PAPER, 7), make_split(list(reversed(ids)), PAPER, 7)
    assert a == b
    assert make_split(ids, PAPER, 8) != a
    parts = [set(a[k]) for k in ("train", "val", "test")]
    assert sum(map(len, parts)) == 369 and set.union(*parts) == set(ids)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_user_split_is_validated(tmp_path):
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ["a", "b"], "val": ["b"], "test": ["c"]}))
    with pytest.raises(DataError, match="case b is in both"):
        load_split(path, ["a", "b", "c"])
    path.write_text(json.dumps({"train": ["a"], "val": ["b"], "test": ["z"]}))
    with pytest.raises(DataError, match="unknown case ids"):
        load_split(path, ["a", "b", "c"])


def test_slice_dataset_on_real_cache(sample_cache):
    ids = sample_cache.case_ids[:2]
    ds = SliceDataset(sample_cache, ids)
    assert len(ds) == 2 * 145
    image, label = ds[150]
    assert image.shape == (2, 128, 128) and image.dtype == torch.float16 and label.dtype == torch.int64
    batch, labels = collate_pad([ds[0], ds[1]])
    assert batch.dtype == torch.float32 and batch.shape == (2, 2, 128, 128) and labels.shape == (2, 128, 128)
    assert all(ds[int(i)][1].max() > 0 for i in ds.tumour_indices[:5])
    assert 0 < len(ds.tumour_indices) < len(ds)


def test_oversampling_draws_tumour_slices(sample_cache):
    ds = SliceDataset(sample_cache, sample_cache.case_ids[:3])
    rng = np.random.default_rng(0)
    plain = sample_indices(len(ds), 4000, ds.tumour_indices, 0.0, rng)
    forced = sample_indices(len(ds), 4000, ds.tumour_indices, 0.9, rng)
    tumour = set(ds.tumour_indices.tolist())
    frac = lambda idx: np.mean([i in tumour for i in idx])  # noqa: E731
    assert frac(forced) > 0.9 > frac(plain) + 0.2
    assert sorted(sample_indices(10, 10, np.array([1]), 0.0, rng)) == list(range(10))


def test_patch_dataset_is_reproducible_and_tumour_biased(sample_cache):
    ds = PatchDataset(sample_cache, sample_cache.case_ids[:2], (32, 48, 48), length=40, tumour_prob=1.0, seed=3)
    image, label = ds[5]
    assert image.shape == (2, 32, 48, 48) and label.shape == (32, 48, 48)
    assert torch.equal(ds[5][0], image)
    assert all(ds[i][1].max() > 0 for i in range(10))
    ds.set_epoch(1)
    assert not torch.equal(ds[5][0], image)


def test_patch_larger_than_volume_is_padded(sample_cache):
    ds = PatchDataset(sample_cache, sample_cache.case_ids[:1], (160, 16, 16), length=2)
    image, label = ds[0]
    assert image.shape == (2, 160, 16, 16) and label.shape == (160, 16, 16)


def test_augment_keeps_labels_discrete_and_shapes():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 2, 32, 32)
    y = torch.zeros(4, 32, 32, dtype=torch.long)
    y[:, 10:20, 12:22] = 3
    y[:, 12:16, 14:18] = 1
    xa, ya = augment_batch(x, y, g)
    assert xa.shape == x.shape and ya.shape == y.shape and ya.dtype == torch.long
    assert set(ya.unique().tolist()) <= {0, 1, 3}
    assert abs((ya == 3).sum().item() / (y == 3).sum().item() - 1) < 0.35
    x3, y3 = augment_batch(torch.randn(2, 1, 8, 16, 16), torch.zeros(2, 8, 16, 16, dtype=torch.long), g)
    assert x3.shape == (2, 1, 8, 16, 16) and y3.shape == (2, 8, 16, 16)


def test_collate_pads_to_a_multiple_of_16():
    batch = [(torch.ones(2, 96, 112), torch.ones(96, 112, dtype=torch.long)),
             (torch.ones(2, 128, 80), torch.ones(128, 80, dtype=torch.long))]
    x, y = collate_pad(batch)
    assert x.shape == (2, 2, 128, 112) and y.shape == (2, 128, 112)
    assert y[0, 100:].sum() == 0 and x[1, :, :, 80:].sum() == 0
