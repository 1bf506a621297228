"""Where the time (and the memory) goes: a training step by operator, a `predict` process by stage.

* ``train``: bare training steps of a recipe's network (channels_last, batch 16, its loss, Adam, in the precision
  ``auto`` resolves to on this CPU: bf16 where it is native, else fp32) timed against the convolution roofline
  measured in the same run and precision (for the recommended recipe also with other norms, ReLU and base
  width 32, to show what its instance norm, leaky ReLU and width cost), then ``torch.profiler`` self CPU
  time grouped into convolutions (forward and backward) and everything else, the largest operators listed;
* ``predict``: one `predict` of a real case as a fresh process, split into interpreter start, imports,
  model load, read + preprocess, network, back to the original grid + decode, write, each with the
  process's peak RSS after it (random weights: the compute is a trained model's).

Run (nothing else running): .venv/bin/python benchmarks/profile_where.py train|predict [--recipe paper]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, best_of, require_sample

CASE = "Brats18_TCIA02_135_1"
CONV = ("convolution", "conv2d", "mkldnn_convolution")

CHILD = r"""
import resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
marks = []
def mark(name):
    marks.append((name, time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20))
import torch, numpy as np
mark("import torch")
from brats_unet.data.discovery import discover_cases
from brats_unet.data.preprocess import preprocess_case
from brats_unet.infer.whole_case import case_logits
from brats_unet.infer.predict import labels_in_original, load_run, write_seg
mark("import brats_unet")
run_dir, sample, case_id, out = map(Path, sys.argv[1:5])
run = load_run(run_dir)
mark("load model")
case = next(c for c in discover_cases(sample) if c.case_id == str(case_id))
prepared = preprocess_case(case, run.cfg.data, with_seg=False, multiple=run.cfg.model.multiple)
image = torch.from_numpy(prepared.image.astype(np.float32))
mark("read + preprocess")
logits = case_logits(run.model, image, run.cfg, run.device, run.precision)
mark("network")
probs = torch.sigmoid(logits) if run.cfg.loss.mode == "regions" else torch.softmax(logits, 0)
labels = labels_in_original(probs, prepared.meta, run.cfg.loss.mode)
mark("to the original grid + decode")
write_seg(case.scheme.from_internal(labels), case.reference, out / "seg.nii.gz")
mark("write NIfTI")
prev = t0
for name, t, rss in marks:
    print(f"{name}\t{t - prev:.3f}\t{rss:.3f}")
    prev = t
print(f"in-process\t{prev - t0:.3f}\t0")
"""


def profile_predict(recipe: str) -> None:
    from workloads import RECIPES, make_run

    sample = require_sample()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = make_run(Path(tmp) / recipe, RECIPES[recipe])
        args = [sys.executable, "-c", CHILD, str(run_dir), str(sample), CASE, tmp]
        subprocess.run(args, check=True, capture_output=True, cwd=REPO / "benchmarks")  # warm the file cache
        t0 = time.perf_counter()
        out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=REPO / "benchmarks").stdout
        wall = time.perf_counter() - t0
    rows = [line.split("\t") for line in out.strip().splitlines()]
    inside = float(rows[-1][1])
    print(f"## `predict` of {CASE}, {recipe} recipe, one fresh process: {wall:.2f} s\n")
    print("| stage | seconds | share | peak RSS after (GB) |\n|---|---|---|---|")
    print(f"| interpreter start + exit | {wall - inside:.2f} | {(wall - inside) / wall:.0%} | |")
    for name, sec, rss in rows[:-1]:
        print(f"| {name} | {float(sec):.2f} | {float(sec) / wall:.0%} | {float(rss):.2f} |")




def recipe_step(recipe: str, overrides: tuple[str, ...] = (), precision: str = "bf16"):
    """(one training step of ``recipe`` on a random batch of 16 at its input size, slices per call, training
    FLOPs per slice): the paper's 2 x 128² with CE, or the recommended 4-channel training window (the median
    brain box for a recipe without ``data.window``) with its loss."""
    import torch

    from brats_unet.config import load_config
    from brats_unet.device import memory_format
    from brats_unet.losses import build_loss
    from brats_unet.models import build_model
    from workloads import RECOMMENDED_BOX, training_step

    cfg = load_config(REPO / "configs" / f"{recipe}.yaml", overrides=list(overrides))
    if cfg.data.mode == "resize":
        h, w = cfg.data.size, cfg.data.size
    else:  # training windows where the recipe has them, else whole brain boxes (padded per batch)
        h, w = cfg.data.window or RECOMMENDED_BOX
    mf = memory_format(2, True)
    net = build_model(cfg.model, cfg.in_channels, cfg.num_classes).to(memory_format=mf).train()
    opt, loss_fn = torch.optim.Adam(net.parameters(), 1e-3), build_loss(cfg.loss)
    x = torch.randn(16, cfg.in_channels, h, w).contiguous(memory_format=mf)
    y = torch.randint(0, 4, (16, h, w))
    step = training_step(net, opt, loss_fn, x, y, precision)

    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return step, 16, counter.get_total_flops() / 16 / 1e9


def profile_train(steps: int, recipe: str) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from brats_unet.device import keep_freed_memory, resolve_precision
    from common import machine
    from workloads import conv_roofline

    keep_freed_memory()  # as the Trainer does on CPU
    precision = resolve_precision("auto", torch.device("cpu"))
    roof = conv_roofline(precision)
    print(f"torch {torch.__version__}; {machine()}; {recipe} recipe, {precision} + channels_last, "
          f"batch 16; conv roofline {roof:.0f} GFLOP/s in {precision} (measured now)\n")
    print("| variant | slices/s | GFLOP per slice | GFLOP/s | share of roofline |\n|---|---|---|---|---|")
    variants = [()] if recipe == "paper" else [(), ("model.norm=batch",), ("model.norm=group",),
                                                 ("model.activation=relu",), ("model.base_features=32",)]
    for overrides in variants:
        step, batch, gflop = recipe_step(recipe, overrides, precision)
        rate = batch / best_of(step, repeat=steps, warmup=2)
        print(f"| {' '.join(overrides) or 'as shipped'} | {rate:.2f} | {gflop:.1f} | {rate * gflop:.0f} | "
              f"{rate * gflop / roof:.0%} |")
    step, _, _ = recipe_step(recipe, precision=precision)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if any(c in e.key for c in CONV))
    print(f"\nas shipped, profiled: convolutions (forward + backward) {conv / total:.0%} of self CPU time")
    print("\n| operator | self CPU share | calls |\n|---|---|---|")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]:
        print(f"| {e.key} | {e.self_cpu_time_total / total:.1%} | {e.count} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["train", "predict"])
    ap.add_argument("--recipe", default="paper", choices=["paper", "recommended"])
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    profile_train(args.steps, args.recipe) if args.what == "train" else profile_predict(args.recipe)


if __name__ == "__main__":
    main()
