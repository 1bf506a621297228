"""Instance normalisation as ``nn.InstanceNorm2d`` (what ``model.norm=instance`` trains with) against
``nn.GroupNorm(C, C)`` (what ``predict`` swaps in on the CPU: ``models.instance_norm_as_group_norm``), in the
recommended network and alone, every figure measured in this one run.

Both compute the same thing (tests/models/test_contract.py checks it). PyTorch's InstanceNorm runs batch
norm over a reshaped copy and hands back a contiguous tensor that the next channels-last convolution must
reorder; GroupNorm keeps the layout. The rounds alternate old/new so that a drift of the machine's speed
hits both alike.

Run (nothing else running): .venv/bin/python benchmarks/bench_norm.py
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from brats_unet.config import load_config
from brats_unet.device import autocast, keep_freed_memory, memory_format, resolve_precision
from brats_unet.losses import build_loss
from brats_unet.models import build_model, instance_norm_as_group_norm
from common import REPO, best_of, machine, usage
from workloads import RECOMMENDED_BOX, training_step

ROUNDS, BATCH = 3, 16


def with_group_norm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every InstanceNorm2d as GroupNorm(C, C), same weights (what predict runs)."""
    new = copy.deepcopy(model)
    assert instance_norm_as_group_norm(new) > 0
    return new


def train_step(net: nn.Module, precision: str, shape: tuple[int, int]):
    """One Dice+CE training step (batch 16, 4 channels, ``shape``) of the recommended recipe, channels_last."""
    cfg = load_config(REPO / "configs" / "recommended.yaml")
    mf = memory_format(2, True)
    net = net.to(memory_format=mf).train()
    opt, loss_fn = torch.optim.Adam(net.parameters(), 1e-3), build_loss(cfg.loss)
    x = torch.randn(BATCH, cfg.in_channels, *shape).contiguous(memory_format=mf)
    y = torch.randint(0, 4, (BATCH, *shape))
    return training_step(net, opt, loss_fn, x, y, precision)


def infer_step(net: nn.Module, precision: str, shape: tuple[int, int]):
    """A batch of 16 whole brain boxes through the network in eval mode, as ``predict`` runs it."""
    mf = memory_format(2, True)
    net = net.to(memory_format=mf).eval()
    x = torch.randn(BATCH, 4, *shape).contiguous(memory_format=mf)

    def step():
        with torch.no_grad(), autocast(torch.device("cpu"), precision):
            net(x)

    return step


def alternate(steps: dict[str, object], repeat: int) -> dict[str, float]:
    """Best seconds per call of each step, over ROUNDS alternating rounds of ``repeat`` calls."""
    best = {k: float("inf") for k in steps}
    for _ in range(ROUNDS):
        for k, fn in steps.items():
            best[k] = min(best[k], best_of(fn, repeat=repeat, warmup=1))  # type: ignore[arg-type]
    return best


def main() -> None:
    usage(__doc__)
    keep_freed_memory()  # as the Trainer does on CPU
    precision = resolve_precision("auto", torch.device("cpu"))
    cfg = load_config(REPO / "configs" / "recommended.yaml")
    torch.manual_seed(0)
    old = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    new = with_group_norm(old)
    print(f"torch {torch.__version__}; {machine()}; recommended network, {precision} + channels_last, "
          f"batch {BATCH}; {ROUNDS} alternating rounds, best of each\n")
    print("| what | InstanceNorm2d | GroupNorm(C, C) | speed-up |\n|---|---|---|---|")
    window = tuple(cfg.data.window or RECOMMENDED_BOX)
    box = f"{RECOMMENDED_BOX[0]}x{RECOMMENDED_BOX[1]} boxes"
    rows = [(f"training step, 128² windows, {precision}", train_step, window, precision),
            (f"inference, {box}, {precision}", infer_step, RECOMMENDED_BOX, precision)]
    if precision != "fp32":  # what a CPU without native bf16 runs (where no ONNX export is at hand)
        rows.append((f"inference, {box}, fp32", infer_step, RECOMMENDED_BOX, "fp32"))
    for what, make, shape, prec in rows:
        t = alternate({"old": make(old, prec, shape), "new": make(new, prec, shape)}, 5)
        print(f"| {what} (slices/s) | {BATCH / t['old']:.1f} | {BATCH / t['new']:.1f} | "
              f"{t['old'] / t['new']:.2f}x |")
    ch, mf = 32, memory_format(2, True)
    x = torch.randn(BATCH, ch, 128, 128).contiguous(memory_format=mf)
    layers = {"old": nn.InstanceNorm2d(ch, affine=True), "new": nn.GroupNorm(ch, ch)}

    def alone(layer):
        def step():
            with torch.no_grad(), autocast(torch.device("cpu"), precision):
                layer(x)
        return step

    t = alternate({k: alone(v) for k, v in layers.items()}, 20)
    print(f"| the layer alone, inference, {BATCH}x{ch}x128², {precision} (ms) | {t['old'] * 1e3:.2f} | "
          f"{t['new'] * 1e3:.2f} | {t['old'] / t['new']:.2f}x |")


if __name__ == "__main__":
    main()
