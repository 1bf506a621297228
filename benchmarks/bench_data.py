"""Preprocessing throughput (cases/s) and cached-dataset throughput (slices/s, random batches of 16).

Run: .venv/bin/python benchmarks/bench_data.py
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch

from brats_unet.config import DataConfig
from brats_unet.data.augment import augment_batch
from brats_unet.data.cache import prepare_cache
from brats_unet.data.datasets import SliceDataset, collate_pad
from common import require_sample, usage

TARGET = 2000.0


def dataset_rate(ds, batches: int = 200, augment: bool = False) -> float:
    rng, g = np.random.default_rng(0), torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(batches):
        x, y = collate_pad([ds[int(i)] for i in rng.integers(0, len(ds), 16)])
        if augment:
            augment_batch(x, y, g)
    return batches * 16 / (time.perf_counter() - t0)


def main() -> None:
    sample = require_sample()
    with tempfile.TemporaryDirectory() as tmp:
        four = ("flair", "t1", "t1ce", "t2")
        for mode, cfg in [("resize 128 (paper, 2 modalities)", DataConfig()),
                          ("native 240 (4 modalities)", DataConfig(mode="native", modalities=four))]:
            t0 = time.perf_counter()
            cache = prepare_cache(sample, cfg, tmp, workers=2, progress=False)
            prep = len(cache.case_ids) / (time.perf_counter() - t0)
            ds = SliceDataset(cache, cache.case_ids)
            plain, aug = dataset_rate(ds), dataset_rate(ds, 50, augment=True)
            print(f"{mode}: prepare {prep:.2f} cases/s (2 workers) | dataset {plain:,.0f} slices/s "
                  f"({plain / TARGET:.1f}x the 2,000 target) | with batch augmentation {aug:,.0f} slices/s")


if __name__ == "__main__":
    usage(__doc__)
    main()
