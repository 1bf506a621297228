"""The run folder: resolved config, split, provenance and per-epoch metrics.

Layout: ``config.yaml`` (resolved config), ``split.json`` (and ``splits_final.json`` for a cross-validation
fold), ``run.json`` (version, git hash, seed, data root, environment), ``metrics.csv`` (one row per epoch),
``last.pt`` / ``best.pt``, ``figures/``, ``eval/``.
Every reader of a run folder goes through these functions.
"""

from __future__ import annotations

import datetime
import platform
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

import torch

from ..atomic_files import read_csv, read_json, write_csv_to, write_json
from ..config import Config, load_config, save_yaml, to_dict
from ..errors import BratsError, DataError
from ..version import __version__

METRIC_COLUMNS = ["epoch", "lr", "seconds", "train_loss", "train_accuracy", "train_mean_iou", "train_dice",
                  "val_loss", "val_accuracy", "val_mean_iou", "val_dice", "val_WT", "val_TC", "val_ET", "val_dice_mean"]


# A run's own files: no command's output may replace one of them (export, pack, predict refuse such an --out).
RUN_FILES = ("config.yaml", "split.json", "splits_final.json", "run.json", "metrics.csv", "best.pt", "last.pt",
             "postprocessing.json", "PACK.json", "signatures.json")


def refuse_run_file(out: str | Path, run_dir: str | Path, what: str) -> None:
    """DataError when ``out`` is one of the run's own files (or the run folder itself)."""
    out, run_dir = Path(out).resolve(), Path(run_dir).resolve()
    if out == run_dir or (out.parent == run_dir and out.name in RUN_FILES) or run_dir / "eval" in [out, *out.parents]:
        raise DataError(f"{out}: {what} would replace the run's own files in {run_dir}; choose another --out")


FREE_ON_RESUME = ("data.cache_dir", "data.nonfinite")  # besides train.* and eval.*: they change no learnt state


def check_resumable(run_dir: Path, cfg: Optional[Config], resume: bool) -> None:
    """Refuse a fresh start over a run, a resume of nothing, and a resume that would change what was learnt.

    A run killed before its first checkpoint holds only what a fresh start wrote (config.yaml, split.json,
    run.json): ``--resume`` says so and how to start; a plain ``train`` starts it afresh.
    """
    if not resume:
        if (run_dir / "last.pt").exists():
            raise BratsError(f"{run_dir} already holds a run; pass --resume to continue it or choose a new --out")
        return
    if not (run_dir / "last.pt").exists():
        why = "does not exist" if not run_dir.exists() else \
            "holds no checkpoint (it stopped before its first epoch ended)"
        raise BratsError(f"{run_dir} {why}: nothing to resume; start it without --resume")
    if cfg is None or not (run_dir / "config.yaml").exists():
        return
    stored, now = to_dict(read_run_config(run_dir)), to_dict(cfg)
    changed = [f"{section}.{key}: {now[section].get(key)!r} now, {value!r} in the run"
               for section in ("data", "model", "loss") for key, value in stored[section].items()
               if f"{section}.{key}" not in FREE_ON_RESUME and now[section].get(key) != value]
    if changed:
        raise BratsError(f"--resume continues the run as it was trained, but {'; '.join(changed[:3])}; change only "
                         "train.* or eval.* keys on --resume, or train a new run for another recipe")


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


def write_run_files(run_dir: Path, cfg: Config, split: dict, data_root: str | Path, extra: dict,
                    folds: Optional[list] = None, signatures: Optional[dict] = None) -> None:
    """config.yaml, split.json, run.json (version, git hash, seed, environment), signatures.json (the training
    cases' intensity profile per modality) and, for a cross-validation fold, every fold as nnU-Net's
    ``splits_final.json``."""
    save_yaml(to_dict(cfg), run_dir / "config.yaml")
    write_json(run_dir / "split.json", split)
    if signatures:  # what predict compares explicit files with (data/signatures.py)
        write_json(run_dir / "signatures.json", signatures)
    if folds is not None:
        write_json(run_dir / "splits_final.json", folds)
    write_json(run_dir / "run.json", {
        "version": __version__, "git": git_hash(), "seed": cfg.train.seed,
        "data_root": str(Path(data_root).resolve()), "python": sys.version.split()[0],
        "torch": torch.__version__, "platform": platform.platform(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"), **extra})


def _require(run_dir: Path, name: str) -> Path:
    path = Path(run_dir) / name
    if not path.exists():
        raise BratsError(f"{run_dir}: not a run folder (no {name}); train one with 'brats-unet train'")
    return path


def read_run_config(run_dir: str | Path, overrides: Iterable[str] = ()) -> Config:
    """The stored config of a run, with optional overrides (e.g. more epochs on --resume)."""
    return load_config(_require(Path(run_dir), "config.yaml"), overrides)


def read_split(run_dir: str | Path) -> dict:
    """The stored split of a run: {"seed", "train", "val", "test"}."""
    return read_json(_require(Path(run_dir), "split.json"))


def read_run_info(run_dir: str | Path) -> dict[str, Any]:
    """The stored provenance (run.json) of a run."""
    return read_json(_require(Path(run_dir), "run.json"))


def data_root_of(run_dir: str | Path, given: Optional[str | Path] = None) -> Path:
    """The dataset root: ``given`` if set, else the one the run was trained on."""
    return Path(given) if given else Path(read_run_info(run_dir)["data_root"])


def write_metrics_to(path: Path, history: list[dict]) -> None:
    """metrics.csv content written to ``path`` as it is (for a group of files committed together)."""
    write_csv_to(history, path, METRIC_COLUMNS)


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """metrics.csv as a list of dicts of floats."""
    rows = read_csv(_require(Path(run_dir), "metrics.csv"))
    return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()} for row in rows]
