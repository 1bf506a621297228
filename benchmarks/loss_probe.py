"""Why do Dice-type losses collapse on the paper's recipe? (issue 13, item 6)

Trains the paper's model (2D U-Net, FLAIR + T1ce, 128², no normalisation, ReLU, dropout 0.2, Adam 1e-3,
bf16) for a few hundred steps on the real sample with one loss at a time, every variant on the same
batches from the same initial weights, and logs every 10 steps: the loss, the fraction of pixels
predicted tumour against the true fraction, the batch's hard whole-tumour Dice, the mean softmax
probability of the true class on tumour pixels and the largest |logit|. Next to our ``dice`` it runs
MONAI's ``DiceLoss`` with the same settings, so a failure shared by both is the optimisation, not our
code.

    .venv/bin/python benchmarks/loss_probe.py --steps 200 --out benchmarks/studies/losses/probe.csv
    .venv/bin/python benchmarks/loss_probe.py --out benchmarks/studies/losses/probe.csv \
        --plot benchmarks/studies/losses/probe.png
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from brats_unet.config import load_config  # noqa: E402
from brats_unet.device import autocast  # noqa: E402
from brats_unet.losses import build_loss  # noqa: E402
from brats_unet.train.loop import Trainer  # noqa: E402
from common import REPO, require_sample  # noqa: E402

BASE = ["data.split_fractions=[0.5625,0.0625,0.375]", "train.precision=bf16"]
# name: (extra --set overrides, loss factory or None for the config's own)
VARIANTS: dict[str, tuple[list[str], str]] = {
    "ce": (["loss=ce"], "ours"),
    "dice": (["loss=dice"], "ours"),
    "monai_dice": (["loss=dice"], "monai"),
    "dice_no_background": (["loss=dice", "loss.include_background=false"], "ours"),
    "dice_instance_norm": (["loss=dice", "model.norm=instance"], "ours"),
    "monai_dice_instance_norm": (["loss=dice", "model.norm=instance"], "monai"),
    "dice_lr_1e-4": (["loss=dice", "train.lr=0.0001"], "ours"),
}


def monai_dice():
    """MONAI's DiceLoss with our ``dice`` settings: softmax, one-hot labels, background kept, batch Dice."""
    from monai.losses import DiceLoss

    fn = DiceLoss(include_background=True, to_onehot_y=True, softmax=True, batch=True, smooth_nr=1e-5,
                  smooth_dr=1e-5)
    return lambda logits, labels: fn(logits.float(), labels[:, None].long())


def probe(name: str, sets: list[str], kind: str, steps: int, sample: Path) -> list[dict]:
    cfg = load_config(REPO / "configs" / "paper.yaml", [*BASE, *sets, f"train.steps_per_epoch={steps}"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, sample, Path(tmp) / "run", progress=False, distributed=False)
    loss_fn = monai_dice() if kind == "monai" else build_loss(cfg.loss)
    net, opt, rows = trainer.net, trainer.optimizer, []
    net.train()
    torch.manual_seed(cfg.train.seed)
    t0 = time.perf_counter()
    for step, (images, labels) in enumerate(trainer._batches(0)):
        images = images.contiguous(memory_format=torch.channels_last)
        with autocast(trainer.device, trainer.precision):
            logits = net(images)
        loss = loss_fn(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == steps - 1:
            stats = _stats(logits.detach().float(), labels, float(loss.detach()))
            rows.append({"variant": name, "step": step, **stats})
    print(f"{name}: {time.perf_counter() - t0:.0f} s; last {rows[-1]}", flush=True)
    return rows


def _stats(logits: torch.Tensor, labels: torch.Tensor, loss: float) -> dict:
    pred, tumour = logits.argmax(1) > 0, labels > 0
    probs = logits.softmax(1).gather(1, labels[:, None].long())[:, 0]
    inter, total = (pred & tumour).sum().item(), pred.sum().item() + tumour.sum().item()
    return {"loss": round(loss, 4), "pred_tumour_pct": round(100 * pred.float().mean().item(), 3),
            "true_tumour_pct": round(100 * tumour.float().mean().item(), 3),
            "wt_dice": round(2 * inter / total, 3) if total else float("nan"),
            "p_true_on_tumour": round(probs[tumour].mean().item(), 4) if tumour.any() else float("nan"),
            "max_abs_logit": round(logits.abs().max().item(), 1)}


def plot(rows: list[dict], path: Path) -> None:
    """Largest |logit| (log scale) and hard WT Dice of the batch against the step, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == name]
        steps = [int(r["step"]) for r in mine]
        axes[0].semilogy(steps, [float(r["max_abs_logit"]) for r in mine], label=name)
        axes[1].plot(steps, [float(r["wt_dice"]) for r in mine], label=name)
    axes[0].set(xlabel="step", ylabel="largest |logit| in the batch")
    axes[1].set(xlabel="step", ylabel="batch WT Dice (hard)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--only", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None, help="draw this PNG from --out's CSV (no training)")
    args = ap.parse_args()
    if args.plot:
        with open(args.out) as fh:
            return plot(list(csv.DictReader(fh)), args.plot)
    sample, rows = require_sample(), []
    for name in args.only:
        sets, kind = VARIANTS[name]
        rows += probe(name, sets, kind, args.steps, sample)
    if args.out:
        with open(args.out, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
