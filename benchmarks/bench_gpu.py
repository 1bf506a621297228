"""CUDA training-step time of each architecture in fp32, bf16 and fp16 autocast (needs a GPU).

Each figure is the median of timed steps (forward + loss + backward + Adam) after warm-up, synchronised
with CUDA events; the useful figures are the speed-ups printed beside them (measured in the same run).
Run: python benchmarks/bench_gpu.py
"""

from __future__ import annotations

import statistics

import torch

from brats_unet.config import load_config
from brats_unet.device import autocast, memory_format
from brats_unet.losses import build_loss
from brats_unet.models import ARCHITECTURES, build_model
from common import usage

SHAPES = {2: (32, 4, 240, 240), 3: (2, 4, 128, 128, 128)}  # native BraTS slices; nnU-Net's 3D patch size


def step_time(model, loss_fn, x, y, precision: str, steps: int = 10) -> float:
    """Median seconds of one optimisation step on the GPU."""
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    times = []
    for i in range(steps + 3):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        with autocast(x.device, precision):
            out = model(x)
        loss = loss_fn(out, y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        end.record()
        torch.cuda.synchronize()
        if i >= 3:
            times.append(start.elapsed_time(end) / 1000)
    return statistics.median(times)


def main() -> None:
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print("| arch | dims | input (batch) | fp32 s/step | bf16 s/step | fp16 s/step | bf16 speed-up | fp16 speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for dims, shape in SHAPES.items():
        for arch in ARCHITECTURES:
            cfg = load_config(overrides=[f"model.arch={arch}", f"model.spatial_dims={dims}",
                                         "data.modalities=[flair,t1,t1ce,t2]", "model.norm=instance"])
            model = build_model(cfg.model, cfg.in_channels, cfg.num_classes).cuda()
            model = model.to(memory_format=memory_format(dims, True))
            x = torch.randn(shape, device="cuda").contiguous(memory_format=memory_format(dims, True))
            y = torch.randint(0, 4, (shape[0], *shape[2:]), device="cuda")
            loss_fn = build_loss(cfg.loss)
            t = {p: step_time(model, loss_fn, x, y, p) for p in ("fp32", "bf16", "fp16")}
            print(f"| {arch} | {dims}D | {'x'.join(map(str, shape[1:]))} ({shape[0]}) | {t['fp32']:.4f} | "
                  f"{t['bf16']:.4f} | {t['fp16']:.4f} | {t['fp32'] / t['bf16']:.2f}x | {t['fp32'] / t['fp16']:.2f}x |",
                  flush=True)
            del model, x, y
            torch.cuda.empty_cache()


if __name__ == "__main__":
    usage(__doc__)
    main()
