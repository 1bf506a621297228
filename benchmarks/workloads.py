"""Workloads shared by several benchmark scripts (not a script itself): the recipes, a run with untrained
weights, FLOP counting, the convolution roofline and training steps on random batches."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from brats_unet.config import load_config, save_yaml, to_dict
from brats_unet.device import autocast, memory_format
from brats_unet.models import build_model
from common import REPO, best_of

BATCH, SIZE = 16, 128  # the paper's batch and input size


RECIPES = {"paper": REPO / "configs" / "paper.yaml", "recommended": REPO / "configs" / "recommended.yaml"}


RECOMMENDED_BOX = (144, 176)  # the median brain bounding box of the sample, padded to multiples of 16


def make_run(folder: Path, config: Path) -> Path:
    """A run folder with untrained weights (timing needs the compute, not the skill)."""
    cfg = load_config(config)
    folder.mkdir(parents=True, exist_ok=True)
    save_yaml(to_dict(cfg), folder / "config.yaml")
    torch.save({"model": build_model(cfg.model, cfg.in_channels, cfg.num_classes).state_dict()}, folder / "best.pt")
    return folder


def forward_flops(model: nn.Module, x: torch.Tensor) -> float:
    """Forward FLOPs (2 x multiply-accumulates) of convolutions, counted with hooks."""
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, (nn.ConvTranspose2d, nn.ConvTranspose3d)):
            total[0] += 2 * inp[0].numel() * mod.out_channels * mod.weight[0, 0].numel()
        else:
            total[0] += 2 * out.numel() * mod.weight[0].numel()

    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d))]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return total[0] / x.shape[0]


def conv_roofline(precision: str) -> float:
    """Best sustained GFLOP/s of 3x3 convolutions (forward + both backward passes) over the U-Net's levels."""
    best = 0.0
    channels_last = precision == "bf16"
    for ch, hw in ((32, 128), (64, 64), (128, 32), (256, 16)):
        conv = nn.Conv2d(ch, ch, 3, padding=1).to(memory_format=memory_format(2, channels_last))
        x = torch.randn(BATCH, ch, hw, hw).contiguous(memory_format=memory_format(2, channels_last))
        x.requires_grad_(True)

        def run(conv=conv, x=x):
            with autocast(torch.device("cpu"), precision):
                y = conv(x)
            y.float().sum().backward()

        seconds = best_of(run, repeat=5, warmup=2)
        flops = 3 * 2 * BATCH * ch * hw * hw * ch * 9  # forward + grad input + grad weight
        best = max(best, flops / seconds / 1e9)
    return best


def step_rate(model: nn.Module, precision: str, channels_last: bool, steps: int, naive: bool = False) -> float:
    """Slices/s of forward + CE loss + backward + Adam on random batches of the paper's input."""
    mf = memory_format(2, channels_last)
    model = model.to(memory_format=mf).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.randn(BATCH, 2, SIZE, SIZE).contiguous(memory_format=mf)
    y = torch.randint(0, 4, (BATCH, SIZE, SIZE))
    loss_fn = nn.CrossEntropyLoss()

    def one():
        with autocast(torch.device("cpu"), precision):
            out = model(x)
        loss = loss_fn(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if naive:  # what a plain loop does every step: a host read and labels on the CPU for metrics
            loss.item()
            out.detach().float().argmax(1).cpu().numpy()

    for _ in range(3):
        one()
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    return steps * BATCH / (time.perf_counter() - t0)


def training_step(net, opt, loss_fn, x, y, precision: str):
    """A closure running one optimisation step of ``net`` on the batch ``x``, ``y`` under autocast."""
    import torch

    from brats_unet.device import autocast

    def step():
        with autocast(torch.device("cpu"), precision):
            out = net(x)
        loss = loss_fn(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step

