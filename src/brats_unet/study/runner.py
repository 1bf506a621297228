"""``brats-unet study``: train and evaluate every variant x seed not yet done, then write the report.

A variant whose evaluation exists is skipped on re-run, an interrupted one resumes from ``last.pt``.
"""

from __future__ import annotations

from pathlib import Path

from ..evaluation.evaluate import evaluate
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
    plan = [(v, s, status(out, v, s)) for v in study.variants for s in study.seeds]
    for v, s, state in plan:
        print(f"{v.name:40s} seed {s}: {state}" + ("" if dry_run or state == "done" else " -> running"), flush=True)
        if dry_run or state == "done":
            continue
        d = run_dir(out, v, s)
        train(variant_config(study, v, s), data, d, resume=state == "resume", progress=progress)
        evaluate(d, study.split, study.checkpoint, data, progress=progress)
    if dry_run:
        return []
    return write_report(study, out, data)
