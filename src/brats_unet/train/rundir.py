"""The run folder: resolved config, split, provenance and per-epoch metrics."""

from __future__ import annotations

import csv
import datetime
import platform
import subprocess
import sys
from pathlib import Path

import torch

from .. import __version__
from ..config import Config, load_config, save_yaml, to_dict
from ..io import atomic_path, read_json, write_json

METRIC_COLUMNS = ["epoch", "lr", "seconds", "train_loss", "train_accuracy", "train_mean_iou", "train_dice",
                  "val_loss", "val_accuracy", "val_mean_iou", "val_dice", "val_WT", "val_TC", "val_ET", "val_dice_mean"]


def git_hash() -> str:
    """The source tree's commit (with ``-dirty`` when modified), or ``unknown`` outside git."""
    src = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=src,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def write_run_files(run_dir: Path, cfg: Config, split: dict, data_root: str | Path, extra: dict) -> None:
    """config.yaml, split.json and run.json (version, git hash, seed, environment)."""
    save_yaml(to_dict(cfg), run_dir / "config.yaml")
    write_json(run_dir / "split.json", split)
    write_json(run_dir / "run.json", {
        "version": __version__, "git": git_hash(), "seed": cfg.train.seed,
        "data_root": str(Path(data_root).resolve()), "python": sys.version.split()[0],
        "torch": torch.__version__, "platform": platform.platform(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"), **extra})


def read_run_config(run_dir: str | Path, overrides=()) -> Config:
    """The stored config of a run, with optional overrides (e.g. more epochs on --resume)."""
    return load_config(Path(run_dir) / "config.yaml", overrides)


def read_split(run_dir: str | Path) -> dict:
    """The stored split of a run."""
    return read_json(Path(run_dir) / "split.json")


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    """Rewrite metrics.csv from the full history (atomic, so a resume never duplicates rows)."""
    with atomic_path(run_dir / "metrics.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """metrics.csv as a list of dicts of floats."""
    with open(Path(run_dir) / "metrics.csv") as fh:
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
                for row in csv.DictReader(fh)]
