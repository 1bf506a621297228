"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get("BRATS_SAMPLE", REPO.parent / "shared" / "data" / "brats2018-sample"))


def usage(doc: str | None, flags: tuple[str, ...] = ()) -> argparse.Namespace:
    """Parse a script's command line: ``--help`` prints ``doc`` and exits before any timing starts, and an
    unknown argument is refused, instead of a long benchmark run that ignores it (and steals the CPU from a
    timed job)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in flags:
        parser.add_argument(flag, action="store_true")
    return parser.parse_args()


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


def machine() -> str:
    """The machine a figure was measured on, e.g. ``AMD EPYC (family 25 model 17), 2 cores, native bf16, 2 threads``.

    Timings from CPUs with and without native bf16 differ by 3-5x (predict's path runs bf16 on the first,
    fp32 on the second), so every printed figure and recorded score names its machine; the family and model
    numbers tell apart CPUs that share a model name (an "AMD EPYC" Zen 4, family 25, trains about 0.6x as many
    steps in a minute as a Zen 5, family 26). The package's own description (run.json, study reports) plus
    the torch threads a benchmark ran with.
    """
    import torch

    from brats_unet.device import machine_name

    return f"{machine_name()}, {torch.get_num_threads()} threads"
