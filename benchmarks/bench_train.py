"""Training throughput against what this machine can do, every figure measured in this one run.

* the limit: a 3x3 convolution micro-benchmark (forward + backward, the shapes of the paper's U-Net levels)
  in bf16 + channels_last and in fp32 gives the sustained GFLOP/s; a training slice costs 3x its forward
  FLOPs (forward, and backward for inputs and weights), so limit = GFLOP/s / (3 x forward GFLOP per slice);
* our trainer: ``Trainer`` epochs of the paper recipe on the real sample's cache (data, step, metrics),
  as a user runs it;
* a naive loop: the same model in fp32, contiguous, eager, ``.item()`` and labels copied to the CPU every
  step, on the same batches;
* MONAI's ``BasicUNet`` and ``UNet`` on the same input (batch 16 x 2 x 128 x 128), bf16 + channels_last.

Run (nothing else running): .venv/bin/python benchmarks/bench_train.py [--steps 30]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from brats_unet.config import load_config
from brats_unet.device import cpu_has_fast_bf16
from brats_unet.train.loop import Trainer
from common import machine, require_sample
from workloads import BATCH, SIZE, conv_roofline, forward_flops, step_rate


def trainer_rate(steps: int) -> float:
    """Slices/s of our Trainer's training epochs (paper recipe, real cache), the second epoch timed."""
    cfg = load_config(overrides=[f"train.steps_per_epoch={steps}", "train.epochs=2", f"train.batch_size={BATCH}"])
    trainer = Trainer(cfg, require_sample(), "/tmp/bench-train-unused", progress=False)
    trainer._train_epoch(0, math.inf)  # warm-up: allocator, oneDNN kernels, page cache
    t0 = time.perf_counter()
    trainer._train_epoch(1, math.inf)
    return steps * BATCH / (time.perf_counter() - t0)


def main(steps: int) -> None:
    from monai.networks.nets import BasicUNet
    from monai.networks.nets import UNet as MonaiUNet

    from brats_unet.models import build_model

    torch.manual_seed(0)
    bf16 = "bf16" if cpu_has_fast_bf16() else "fp32"
    print(f"torch {torch.__version__}; {machine()}; training precision {bf16}")
    peak = {p: conv_roofline(p) for p in ("fp32", bf16)}
    cfg = load_config()
    ours = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    nets = {"ours (paper U-Net)": ours,
            "MONAI BasicUNet": BasicUNet(spatial_dims=2, in_channels=2, out_channels=4),
            "MONAI UNet": MonaiUNet(spatial_dims=2, in_channels=2, out_channels=4, channels=(32, 64, 128, 256, 512),
                                    strides=(2, 2, 2, 2), num_res_units=2)}
    flops = {name: forward_flops(net, torch.randn(1, 2, SIZE, SIZE)) for name, net in nets.items()}
    print(f"conv roofline: {peak['fp32']:.0f} GFLOP/s fp32, {peak[bf16]:.0f} GFLOP/s {bf16}\n")
    print("| loop | model | GFLOP fwd / slice | slices/s | GFLOP/s (3x fwd) | limit slices/s | share of limit |")
    print("|---|---|---|---|---|---|---|")

    def row(loop: str, name: str, rate: float, precision: str) -> None:
        g = 3 * flops[name] / 1e9
        limit = peak[precision] / g
        print(f"| {loop} | {name} | {flops[name] / 1e9:.2f} | {rate:.1f} | {rate * g:.0f} | {limit:.1f} | "
              f"{rate / limit:.0%} |", flush=True)

    rates = {"trainer": trainer_rate(steps)}
    row(f"brats-unet Trainer ({bf16} + channels_last, real cache)", "ours (paper U-Net)", rates["trainer"], bf16)
    naive_model = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    rates["naive"] = step_rate(naive_model, "fp32", False, steps, naive=True)
    row("naive fp32 eager loop", "ours (paper U-Net)", rates["naive"], "fp32")
    rates["step"] = step_rate(build_model(cfg.model, cfg.in_channels, cfg.num_classes), bf16, True, steps)
    row(f"bare step ({bf16} + channels_last, random input)", "ours (paper U-Net)", rates["step"], bf16)
    for name in ("MONAI BasicUNet", "MONAI UNet"):
        row(f"bare step ({bf16} + channels_last)", name, step_rate(nets[name], bf16, True, steps), bf16)
    print(f"\nratios in this run: Trainer / naive fp32 = {rates['trainer'] / rates['naive']:.2f}x, "
          f"Trainer / bare step = {rates['trainer'] / rates['step']:.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    main(ap.parse_args().steps)
