"""Seconds per training step of the cross-validation study's recipes, measured in one run, so that a study can
give each recipe the same CPU time in steps (issue 34: "equal wall-clock on the CPU you measured").

Each recipe is a variant of ``studies/cv30/study.yaml`` (read from it, so the two cannot drift apart), trained
by our ``Trainer`` on the real sample's cache as a user runs it: one warm-up epoch (allocator, oneDNN kernels,
page cache), then the median of ``--repeat`` timed epochs. The last column is the number of steps that costs what
300 steps of the recipe cost (the study's budget).

Run (nothing else running): .venv/bin/python benchmarks/bench_recipes.py [--steps 20] [--repeat 3] [--only V ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time

from brats_unet.config import Config
from brats_unet.study.spec import load_study, variant_config
from brats_unet.train.loop import Trainer
from common import REPO, machine, require_sample

BUDGET = 300  # the study's steps per fold for the recipe
STUDY = REPO / "studies" / "cv30" / "study.yaml"
DEFAULT = ["recommended", "reference", "two_mod", "deep_supervision", "patch3d"]


def seconds_per_step(cfg: Config, steps: int, repeat: int) -> float:
    """Median wall seconds of one training step (batch as configured) after a warm-up epoch."""
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps_per_epoch=steps, epochs=repeat + 1))
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, require_sample(), run_dir, progress=False)
        trainer._train_epoch(0, math.inf)
        times = []
        for epoch in range(1, repeat + 1):
            t0 = time.perf_counter()
            trainer._train_epoch(epoch, math.inf)
            times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed epoch")
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per recipe (median)")
    study = load_study(STUDY)
    variants = {v.name: v for v in study.variants}
    parser.add_argument("--only", nargs="*", choices=list(variants), default=DEFAULT)
    args = parser.parse_args()
    print(f"{machine()}; {args.steps} steps x {args.repeat} epochs per recipe, median\n")
    print(f"| recipe | s / step | vs recommended | steps in the CPU time of {BUDGET} recipe steps |")
    print("|---|---|---|---|")
    base = None
    for name in args.only:
        sec = seconds_per_step(variant_config(study, variants[name], 0), args.steps, args.repeat)
        base = base or sec
        print(f"| {name} | {sec:.3f} | {sec / base:.2f}x | {round(BUDGET * base / sec)} |", flush=True)


if __name__ == "__main__":
    main()
