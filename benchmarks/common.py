"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get("BRATS_SAMPLE", REPO.parent / "shared" / "data" / "brats2018-sample"))


def best_of(fn, repeat: int = 3, warmup: int = 1) -> float:
    """Minimum wall time of ``fn()`` over ``repeat`` runs after ``warmup`` runs (seconds)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def require_sample() -> Path:
    if not SAMPLE.is_dir():
        raise SystemExit(f"real BraTS sample not found at {SAMPLE} (set BRATS_SAMPLE)")
    return SAMPLE
