"""``brats-unet evaluate``: the paper's Table 1 and BraTS region scores at the original geometry.

* ``table1.md|csv``: rows Training / Validation / Test; columns Loss, Accuracy, Mean IoU, Dice, the
  paper's quantities, pooled over every cached (model-space) slice of each split as its Keras metrics were.
* ``brats.md|csv``: per-region Dice, HD95, sensitivity, specificity (mean +- sd, median over cases)
  on volumes reassembled at the original 240 x 240 x 155 geometry; ``per_case.csv`` one row per case x region.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from ..brats import BRATS2023
from ..data.cache import SliceCache, prepare_cache
from ..data.discovery import Case, discover_cases
from ..data.volumes import read_seg, spacing
from ..errors import BratsError
from ..infer.predict import LoadedRun, load_run, segment
from ..io import atomic_write_text, write_csv
from ..losses import build_loss
from ..runs.folder import data_root_of, read_split
from ..train.validate import evaluate_cached
from .scoring import score_arrays, subchallenge_of
from .tables import region_summary, score_columns, summary_metrics, summary_table

SPLIT_NAMES = {"train": "Training", "val": "Validation", "test": "Test"}


def table1(run: LoadedRun, cache: SliceCache, split: dict, which: tuple[str, ...] = tuple(SPLIT_NAMES)) -> list[dict]:
    """The paper's Table 1 rows for the ``which`` splits (train, val, test)."""
    loss_fn = build_loss(run.cfg.loss)
    rows = []
    for key, name in SPLIT_NAMES.items():
        if key not in which or not split.get(key):
            continue
        m = evaluate_cached(run.model, cache, split[key], run.cfg, run.device, run.precision, loss_fn)
        rows.append({"split": name, "cases": len(split[key]), "loss": m["loss"], "accuracy": m["accuracy"],
                     "mean_iou": m["mean_iou"], "dice": m["dice"]})
    return rows


def table1_markdown(rows: list[dict]) -> str:
    """Markdown of Table 1 (percentages as in the paper, loss as a number)."""
    lines = ["| | cases | Loss | Accuracy | Mean IoU | Dice |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['split']} | {r['cases']} | {r['loss']:.4f} | {100 * r['accuracy']:.2f} % | "
                     f"{100 * r['mean_iou']:.2f} % | {100 * r['dice']:.2f} % |")
    return "\n".join(lines) + "\n\nAccuracy, Mean IoU and Dice are the paper's metrics: pooled over all pixels " \
        "of the model-space slices, averaged over the 4 classes including background (not BraTS region Dice).\n"


def brats_rows(run: LoadedRun, cases: list[Case], convention: str, tta: bool = False,
               progress: bool = False) -> list[dict]:
    """Per case x region scores at the original geometry (with lesion-wise columns if ``eval.lesionwise``)."""
    from tqdm.auto import tqdm

    challenge = subchallenge_of([c.case_id for c in cases], run.cfg.eval.lesionwise)
    rows = []
    for case in tqdm(cases, desc="evaluate", unit="case", disable=not progress):
        internal, _ = segment(run, case, tta)
        ref = read_seg(case)
        assert ref is not None  # evaluate only picks cases with a segmentation
        mm = spacing(case.images[run.cfg.data.modalities[0]])
        # internal codes are the 2023 codes (1 core, 2 edema, 3 enhancing), so its regions apply
        rows += score_arrays(case.case_id, internal, ref, mm, BRATS2023, convention, run.cfg.eval.hd95, challenge)
    return rows


def evaluate(run_dir: str | Path, split: str = "test", checkpoint: str = "best",
             data_root: Optional[str | Path] = None, progress: bool = True, device: str = "auto",
             overrides: Iterable[str] = ()) -> dict:
    """Write table1.*, brats.*, per_case.csv into ``run_dir/eval``; return the tables.

    Only the cases of ``split`` are preprocessed and scored (``all``: every split), Table 1 included.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir, checkpoint, device, overrides)
    data_root = data_root_of(run_dir, data_root)
    splits = read_split(run_dir)
    which = tuple(SPLIT_NAMES) if split == "all" else (split,)
    wanted = {c for s in which for c in splits[s]}
    cache = prepare_cache(data_root, run.cfg.data, progress=progress, multiple=run.cfg.model.multiple, only=wanted)
    t1 = table1(run, cache, splits, which)
    cases = [c for c in discover_cases(data_root) if c.case_id in wanted and c.seg is not None]
    if not cases:
        raise BratsError(f"no cases of split '{split}' found under {data_root}")
    rows = brats_rows(run, cases, run.cfg.eval.convention, run.cfg.eval.tta, progress)
    _write(run_dir / "eval", t1, rows, split)
    return {"table1": t1, "per_case": rows}


def _write(out: Path, t1: list[dict], rows: list[dict], split: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table1.md", table1_markdown(t1))
    write_csv(t1, out / "table1.csv")
    write_csv(rows, out / "per_case.csv", score_columns(rows))
    atomic_write_text(out / "brats.md", f"BraTS region scores, split '{split}', original geometry "
                      f"(mean ± sd (median) over cases)\n\n{summary_table(rows, summary_metrics(rows))}\n")
    write_csv(region_summary(rows, summary_metrics(rows)), out / "brats.csv")
