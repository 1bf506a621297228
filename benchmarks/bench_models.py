"""Parameters, forward GFLOPs and forward+backward time of each architecture.

2D at 128x128 (batch 16, the paper's input), 3D at 96^3 (batch 1). Times are the best of a few runs on
this machine; the useful figures are the ratios printed beside them (measured in the same run).
Run: .venv/bin/python benchmarks/bench_models.py [--skip-3d]
"""

from __future__ import annotations

import torch

from brats_unet.config import load_config
from brats_unet.device import autocast, cpu_has_fast_bf16, memory_format
from brats_unet.models import ARCHITECTURES, build_model
from common import best_of, machine, usage
from workloads import forward_flops


def step_time(model, x, precision="fp32", channels_last=False, repeat=3) -> float:
    model.train().to(memory_format=memory_format(x.dim() - 2, channels_last))
    x = x.contiguous(memory_format=memory_format(x.dim() - 2, channels_last))

    def run():
        with autocast(torch.device("cpu"), precision):
            out = model(x)
        out.float().mean().backward()

    return best_of(run, repeat=repeat)


def main(skip_3d: bool) -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}; {machine()}")
    print("| arch | dims | input | params | GFLOP fwd / sample | fwd+bwd s (fp32) | fwd+bwd s (bf16+CL) "
          "| bf16 speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for dims, shape in [(2, (16, 2, 128, 128)), (3, (1, 2, 96, 96, 96))]:
        if dims == 3 and skip_3d:
            continue
        for arch in ARCHITECTURES:
            cfg = load_config(overrides=[f"model.arch={arch}", f"model.spatial_dims={dims}"])
            model = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
            x = torch.randn(shape)
            params = sum(p.numel() for p in model.parameters())
            flops = forward_flops(model, x[:1])
            repeat = 3 if dims == 2 else 1
            fp32 = step_time(model, x, "fp32", False, repeat=repeat)
            # Without native bf16, autocast emulates it (minutes a row, and nobody trains that way): not timed.
            bf16 = "- | -"
            if cpu_has_fast_bf16():
                t = step_time(model, x, "bf16", True, repeat=repeat)
                bf16 = f"{t:.3f} | {fp32 / t:.2f}x"
            print(f"| {arch} | {dims}D | {'x'.join(map(str, shape[1:]))} (batch {shape[0]}) | {params / 1e6:.2f} M | "
                  f"{flops / 1e9:.2f} | {fp32:.3f} | {bf16} |", flush=True)


if __name__ == "__main__":
    main(usage(__doc__, ("--skip-3d",)).skip_3d)
