"""Time to score one real 240x240x155 case (WT/TC/ET, all metrics, HD95 included); target <= 1 s.

The prediction is the reference eroded twice (a realistic near-miss, so every surface is non-trivial).
Also prints how much the joint-bounding-box crop in HD95 saves, measured in the same run.
Run: .venv/bin/python benchmarks/bench_metrics.py
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_erosion

from brats_unet.data.discovery import discover_cases
from brats_unet.data.volumes import read_seg
from brats_unet.metrics import surface
from brats_unet.metrics.regions import score_case
from common import best_of, require_sample, usage


def main() -> None:
    cases = discover_cases(require_sample())
    times = []
    for case in cases[:4]:
        ref = read_seg(case)
        pred = np.where(binary_erosion(ref > 0, iterations=2), ref, 0)
        times.append(best_of(lambda p=pred, r=ref: score_case(p, r, (1.0, 1.0, 1.0)), repeat=3))
        print(f"{case.case_id}: {times[-1]:.3f} s per case ({1.0 / times[-1]:.1f}x faster than the 1 s target)")
    ref = read_seg(cases[0])
    pred = np.where(binary_erosion(ref > 0, iterations=2), ref, 0)
    cropped = best_of(lambda: surface.hd95(pred > 0, ref > 0), repeat=3)
    original = surface.crop_joint
    surface.crop_joint = lambda a, b, margin=1: (a, b)
    try:
        full = best_of(lambda: surface.hd95(pred > 0, ref > 0), repeat=2)
    finally:
        surface.crop_joint = original
    print(f"mean {np.mean(times):.3f} s per case; WT HD95 with bounding-box crop {cropped:.3f} s vs full volume "
          f"{full:.3f} s ({full / cropped:.1f}x)")


if __name__ == "__main__":
    usage(__doc__)
    main()
