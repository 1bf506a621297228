"""``brats-unet study``: train and evaluate every variant x seed (x fold) not yet done, then write the report.

A variant whose evaluation exists is skipped on re-run, an interrupted one resumes from ``last.pt``. With
``folds: K`` every variant x seed trains on every fold of one patient-level partition (``study/folds.py``) and
is scored on that fold's test cases at their original geometry. Several ``--data`` roots form one dataset
(``data/roots.py``). Under ``torchrun --nproc_per_node N`` the runs (fold-variant-seed) are shared out, one
process (and one GPU) per run at a time, each trained single-process; rank 0 writes the report once every
rank is done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..atomic_files import refuse_file
from ..data.roots import union_root
from ..device import resolve_device
from ..distributed import barrier, setup, share
from ..evaluation.evaluate import evaluate
from ..train.loop import train
from .folds import study_folds, write_fold_splits
from .report import write_report
from .spec import Study, Variant, run_dir, variant_config


def status(out: Path, variant: Variant, seed: int, fold: Optional[int] = None) -> str:
    """``done`` (evaluated), ``resume`` (started) or ``new``."""
    d = run_dir(out, variant, seed, fold)
    if (d / "eval" / "per_case.csv").exists():
        return "done"
    return "resume" if (d / "last.pt").exists() else "new"


def study_data(data: str | Path | list, out: Path) -> Path:
    """The study's one dataset root: ``data`` itself, or ``STUDY/data`` linking the cases of several roots."""
    roots = list(data) if isinstance(data, (list, tuple)) else [data]
    return union_root(roots, out / "data")


def run_study(study: Study, data: str | Path | list, out: str | Path, dry_run: bool = False,
              progress: bool = True) -> list[dict]:
    """Train and evaluate every variant x seed (x fold) not yet done; write report.md and summary.csv."""
    out = Path(out)
    refuse_file(out, "study folder")
    root = study_data(data, out)
    splits: list[Optional[Path]] = [None]
    if study.folds:
        splits = list(write_fold_splits(study_folds(study, root, out), out))
    ctx = setup(resolve_device("auto").type)  # SINGLE unless started by torchrun
    who = f"[rank {ctx.rank}] " if ctx.active else ""
    plan = [(v, s, f, status(out, v, s, f)) for f in study.fold_ids for v in study.variants for s in study.seeds]
    for v, s, f, state in share(plan, ctx):
        where = f"{v.name:40s}" + ("" if f is None else f" fold {f}")
        print(f"{who}{where} seed {s}: {state}" + ("" if dry_run or state == "done" else " -> running"), flush=True)
        if dry_run or state == "done":
            continue
        d = run_dir(out, v, s, f)
        cfg = variant_config(study, v, s, splits[f] if f is not None else None)
        train(cfg, root, d, resume=state == "resume", progress=progress, distributed=False)
        evaluate(d, study.split, study.checkpoint, root, progress=progress)
    barrier(ctx)
    if dry_run or not ctx.is_main:
        return []
    return write_report(study, out, root)
