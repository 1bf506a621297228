"""The brief's MONAI-style reference, re-run on our leave-cases-out split under the same wall-clock budget.

MONAI's 2D ``BasicUNet`` (features 32-32-64-128-256-32, instance norm, LeakyReLU 0.1, transposed-conv
up-sampling), 4 modalities, brain z-score, softmax Dice + CE, tumour-slice oversampling — trained by our
loop on our cached data (native crops, all slices, the same augmentation, Adam 1e-3), so that only the
recipe differs from `benchmarks/quality.py`. Scored with the same code at the original geometry.

Run: .venv/bin/python benchmarks/monai_baseline.py --minutes 20 --out runs/quality-monai
(monai is a dev dependency: a test-only and benchmark-only reference, never imported by the package.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from monai.networks.nets import BasicUNet

from brats_unet.atomic_files import write_csv
from brats_unet.config import load_config
from brats_unet.data.discovery import discover_cases
from brats_unet.evaluation.evaluate import brats_rows, predict_labels
from brats_unet.evaluation.tables import summary_table
from brats_unet.infer.predict import LoadedRun
from brats_unet.train.loop import Trainer
from common import require_sample
from quality import write_leave_out_split

RECIPE = ["data.modalities=[flair,t1,t1ce,t2]", "data.normalize=zscore", "data.mode=crop", "data.slices=[0, 155]",
          "data.oversample=0.5", "data.augment=true", "loss={dice: 1.0, ce: 1.0}", "loss.mode=multiclass",
          "train.lr=0.001", "train.batch_size=16", "train.epochs=1000", "train.steps_per_epoch=100"]


def build_trainer(sample: Path, out: Path, overrides: list[str], on_step=None) -> Trainer:
    """Our Trainer with its model and optimiser swapped for MONAI's BasicUNet; ``overrides`` (budget, split)
    come after the recipe's."""
    cfg = load_config(overrides=RECIPE + overrides)
    trainer = Trainer(cfg, sample, out, progress=False, on_step=on_step)
    torch.manual_seed(cfg.train.seed)
    # the network trained (model), validated and checkpointed (net): one object when not under torchrun
    trainer.model = trainer.net = BasicUNet(spatial_dims=2, in_channels=4, out_channels=4).to(
        trainer.device, memory_format=torch.channels_last)
    trainer.optimizer = torch.optim.Adam(trainer.model.parameters(), lr=cfg.train.lr)
    return trainer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--out", default="runs/quality-monai")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sample, out = require_sample(), Path(args.out)
    split_file = write_leave_out_split(sample, out, args.seed)
    trainer = build_trainer(sample, out / "run", [f"train.max_minutes={args.minutes}", f"data.split_file={split_file}"])
    params = sum(p.numel() for p in trainer.model.parameters())
    last = trainer.fit()
    print(f"BasicUNet {params / 1e6:.2f} M parameters, {len(trainer.history)} epochs of "
          f"{trainer.steps_per_epoch()} steps; last val Dice WT/TC/ET "
          f"{last['val_WT']:.3f}/{last['val_TC']:.3f}/{last['val_ET']:.3f}")
    run = LoadedRun(trainer.cfg, trainer.model.eval(), trainer.device, trainer.precision)
    cases = [c for c in discover_cases(sample) if c.case_id in set(trainer.split["test"])]
    rows = brats_rows(run, cases, predict_labels(run, cases), trainer.cfg.eval.convention)
    write_csv(rows, out / "per_case.csv")
    print(summary_table(rows))


if __name__ == "__main__":
    main()
