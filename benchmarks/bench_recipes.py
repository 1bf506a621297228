"""Seconds per training step of the cross-validation study's recipes, measured in one run, so that a study can
give each recipe the same CPU time in steps (issue 34: "equal wall-clock on the CPU you measured").

Each recipe is ``configs/recommended.yaml`` with the overrides of its ``studies/cv30/study.yaml`` variant, trained
by our ``Trainer`` on the real sample's cache as a user runs it: one warm-up epoch (allocator, oneDNN kernels,
page cache), then the median of ``--repeat`` timed epochs. The last column is the number of steps that costs what
300 steps of the recipe cost (the study's budget).

Run (nothing else running): .venv/bin/python benchmarks/bench_recipes.py [--steps 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time

from brats_unet.config import load_config
from brats_unet.train.loop import Trainer
from common import REPO, machine, require_sample

BUDGET = 300  # the study's steps per fold for the recipe
RECIPES: dict[str, list[str]] = {
    "recommended": [],
    "reference": ["model.features=[32, 32, 64, 128, 256]", "model.upsample=transpose"],
    "two_mod": ["data.modalities=[flair, t1ce]"],
    "deep_supervision": ["model.deep_supervision=true"],
    "patch3d": ["model.spatial_dims=3", "data.window=null", "data.patch_size=[96, 96, 96]", "train.batch_size=2"],
    # precision forced either way: is bf16 native here, or emulated by oneDNN (slower than fp32)?
    "recommended_fp32": ["train.precision=fp32"],
    "recommended_bf16": ["train.precision=bf16"],
}


def seconds_per_step(overrides: list[str], steps: int, repeat: int) -> float:
    """Median wall seconds of one training step (batch as configured) after a warm-up epoch."""
    cfg = load_config(REPO / "configs" / "recommended.yaml",
                      [*overrides, f"train.steps_per_epoch={steps}", "train.epochs=2"])
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
    parser.add_argument("--only", nargs="*", choices=list(RECIPES), default=list(RECIPES))
    args = parser.parse_args()
    print(f"{machine()}; {args.steps} steps x {args.repeat} epochs per recipe, median\n")
    print(f"| recipe | s / step | vs recommended | steps in the CPU time of {BUDGET} recipe steps |")
    print("|---|---|---|---|")
    base = None
    for name in args.only:
        sec = seconds_per_step(RECIPES[name], args.steps, args.repeat)
        base = base or sec
        print(f"| {name} | {sec:.3f} | {sec / base:.2f}x | {round(BUDGET * base / sec)} |", flush=True)


if __name__ == "__main__":
    main()
