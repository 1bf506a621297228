"""``brats-unet study``: train and evaluate every variant x seed not yet done, then write the report.

A variant whose evaluation exists is skipped on re-run, an interrupted one resumes from ``last.pt``.
Under ``torchrun --nproc_per_node N`` the runs are shared out, one process (and one GPU) per run at a
time, each trained single-process; rank 0 writes the report once every rank is done.
"""

from __future__ import annotations

from pathlib import Path

from ..device import resolve_device
from ..distributed import barrier, setup, share
from ..evaluation.evaluate import evaluate
from ..io import refuse_file
from ..train.loop import train
from .report import write_report
from .spec import Study, Variant, run_dir, variant_config


def status(out: Path, variant: Variant, seed: int) -> str:
    """``done`` (evaluated), ``resume`` (started) or ``new``."""
    d = run_dir(out, variant, seed)
    if (d / "eval" / "per_case.csv").exists():
        return "done"
    return "resume" if (d / "last.pt").exists() else "new"


def run_study(study: Study, data: str | Path, out: str | Path, dry_run: bool = False,
              progress: bool = True) -> list[dict]:
    """Train and evaluate every variant x seed not yet done; write report.md and summary.csv."""
    out = Path(out)
    refuse_file(out, "study folder")
    ctx = setup(resolve_device("auto").type)  # SINGLE unless started by torchrun
    who = f"[rank {ctx.rank}] " if ctx.active else ""
    plan = [(v, s, status(out, v, s)) for v in study.variants for s in study.seeds]
    for v, s, state in share(plan, ctx):
        print(f"{who}{v.name:40s} seed {s}: {state}" + ("" if dry_run or state == "done" else " -> running"),
              flush=True)
        if dry_run or state == "done":
            continue
        d = run_dir(out, v, s)
        train(variant_config(study, v, s), data, d, resume=state == "resume", progress=progress, distributed=False)
        evaluate(d, study.split, study.checkpoint, data, progress=progress)
    barrier(ctx)
    if dry_run or not ctx.is_main:
        return []
    return write_report(study, out, data)
