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
    """The CPU a figure was measured on, e.g. ``AMD EPYC (family 25 model 17), 2 threads, avx512 yes, native bf16 yes``.

    Timings from CPUs with and without native bf16 differ by 3-5x (predict's path runs bf16 on the first,
    fp32 on the second), so every printed figure and recorded score names its machine. The family and model
    numbers tell apart CPUs that share a model name and flags (an "AMD EPYC" Zen 4, family 25, trains about
    0.6x as many steps in a minute as a Zen 5, family 26).
    """
    import torch

    from brats_unet.device import cpu_has_fast_bf16

    info: dict[str, str] = {}  # the first processor's fields; the 2-thread machines are homogeneous
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    yes = {True: "yes", False: "no"}
    return (f"{info.get('model name', 'unknown CPU')} (family {info.get('cpu family', '?')} "
            f"model {info.get('model', '?')}), {torch.get_num_threads()} threads, "
            f"avx512 {yes['avx512f' in info.get('flags', '').split()]}, "
            f"native bf16 {yes[cpu_has_fast_bf16()]}")
