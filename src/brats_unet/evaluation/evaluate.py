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

import numpy as np

from ..atomic_files import atomic_write_text, write_csv
from ..brats import BRATS2023
from ..data.cache import SliceCache, prepare_cache
from ..data.discovery import Case, discover_cases
from ..data.volumes import read_seg, spacing
from ..errors import BratsError
from ..infer.postprocess import Postprocess, apply, dice_table, write_choice
from ..infer.predict import LoadedRun, load_run, segment
from ..infer.uncertainty import uncertainty_maps
from ..losses import build_loss
from ..runs.folder import data_root_of, read_split
from .cached_cases import evaluate_cached
from .margins import margin_rows, write_margins
from .scoring import score_arrays, subchallenge_of
from .tables import region_summary, score_columns, summary_metrics, summary_table

SPLIT_NAMES = {"train": "Training", "val": "Validation", "test": "Test"}


def pooled_table(run: LoadedRun, cache: SliceCache, split: dict,
                 which: tuple[str, ...] = tuple(SPLIT_NAMES)) -> list[dict]:
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


def pooled_table_markdown(rows: list[dict]) -> str:
    """Markdown of Table 1 (percentages as in the paper, loss as a number)."""
    lines = ["| | cases | Loss | Accuracy | Mean IoU | Dice |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['split']} | {r['cases']} | {r['loss']:.4f} | {100 * r['accuracy']:.2f} % | "
                     f"{100 * r['mean_iou']:.2f} % | {100 * r['dice']:.2f} % |")
    return "\n".join(lines) + "\n\nAccuracy, Mean IoU and Dice are the paper's metrics: pooled over all pixels " \
        "of the model-space slices, averaged over the 4 classes including background (not BraTS region Dice).\n"


def predict_labels(run: LoadedRun, cases: list[Case], tta: bool = False, progress: bool = False,
                   maps: Optional[dict] = None) -> dict[str, np.ndarray]:
    """{case id: internal labels (X, Y, Z)} before any post-processing; with ``maps`` (a dict), also fills it with
    {case id: {region: uint8 uncertainty}} as ``predict --uncertainty`` writes them."""
    from tqdm.auto import tqdm

    out = {}
    for case in tqdm(cases, desc="evaluate", unit="case", disable=not progress):
        out[case.case_id], probs = segment(run, case, tta, probabilities=maps is not None, postprocess=False)
        if maps is not None and probs is not None:
            maps[case.case_id] = uncertainty_maps(probs, run.cfg.loss.mode)
    return out


def references(cases: list[Case]) -> dict[str, np.ndarray]:
    """{case id: reference labels (internal codes)}, each file read once."""
    refs = {}
    for case in cases:
        ref = read_seg(case)
        assert ref is not None  # evaluate only picks cases with a segmentation
        refs[case.case_id] = ref
    return refs


def brats_rows(run: LoadedRun, cases: list[Case], labels: dict[str, np.ndarray], convention: str,
               postprocess: Optional[Postprocess] = None, refs: Optional[dict[str, np.ndarray]] = None) -> list[dict]:
    """Per case x region scores at the original geometry (with lesion-wise columns if ``eval.lesionwise``);
    ``refs`` from :func:`references` when the caller already read them."""
    challenge = subchallenge_of([c.case_id for c in cases], run.cfg.eval.lesionwise)
    refs = refs if refs is not None else references(cases)
    rows = []
    for case in cases:
        internal = labels[case.case_id]
        internal = apply(internal, postprocess) if postprocess is not None and postprocess.active else internal
        ref = refs[case.case_id]
        mm = spacing(case.images[run.cfg.data.modalities[0]])
        # internal codes are the 2023 codes (1 core, 2 edema, 3 enhancing), so its regions apply
        rows += score_arrays(case.case_id, internal, ref, mm, BRATS2023, convention, run.cfg.eval.hd95, challenge)
    return rows


def choose_postprocessing(run_dir: Path, run: LoadedRun, val_cases: list[Case], labels: dict[str, np.ndarray],
                          refs: dict[str, np.ndarray], checkpoint: str,
                          split: str) -> tuple[Optional[Postprocess], str]:
    """Choose post-processing on the validation cases (writing ``run_dir/postprocessing.json``, the file predict
    reads when ``run_dir`` is the run); (choice, a sentence)."""
    if run.cfg.eval.postprocess == "none":
        return None, "Post-processing: off (eval.postprocess: none)."
    if not val_cases:
        return None, "Post-processing: none (no validation cases with a segmentation to choose it on)."
    tables = {case.case_id: dice_table(labels[case.case_id], refs[case.case_id]) for case in val_cases}
    record = write_choice(run_dir, tables, checkpoint, run.cfg.eval.tta)
    chosen = Postprocess(*record["chosen"])
    evidence = (f"chosen on the {len(tables)} validation case(s), mean Dice over WT/TC/ET "
                f"{record['mean_dice_without']:.4f} without, {record['mean_dice_with']:.4f} with; stored in "
                f"{run_dir / 'postprocessing.json'}" + ("; scored here on those same cases, so optimistic"
                                                       if split in ("val", "all") else ""))
    if not chosen.active:
        return None, f"Post-processing: none ({evidence}: no setting beat none)."
    return chosen, f"Post-processing: {chosen.describe()} ({evidence}). 'predict' applies it."


def evaluate(run_dir: str | Path, split: str = "test", checkpoint: str = "best",
             data_root: Optional[str | Path] = None, progress: bool = True, device: str = "auto",
             overrides: Iterable[str] = (), out: Optional[str | Path] = None) -> dict:
    """Write table1.*, brats.*, per_case.csv into ``run_dir/eval`` (or ``out``); return the tables and ``out``,
    the folder they went to.

    With ``out`` the run folder is left as it was: the tables and the post-processing choice go to ``out``,
    so scoring with other settings (``eval.tta``, another checkpoint) does not change what ``predict`` applies.

    Only the cases of ``split`` are preprocessed and scored (``all``: every split), Table 1 included.
    With ``eval.postprocess: auto`` the validation cases are predicted too, post-processing is chosen on
    them (:mod:`brats_unet.infer.postprocess`), and the split is scored with it (``per_case.csv``) and
    without (``per_case_no_postprocess.csv``); ``brats.md`` says which was chosen and why.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir, checkpoint, device, overrides)
    data_root = data_root_of(run_dir, data_root)
    splits = read_split(run_dir)
    which = tuple(SPLIT_NAMES) if split == "all" else (split,)
    wanted = {c for s in which for c in splits[s]}
    cache = prepare_cache(data_root, run.cfg.data, progress=progress, multiple=run.cfg.model.multiple, only=wanted)
    t1 = pooled_table(run, cache, splits, which)
    found = [c for c in discover_cases(data_root) if c.seg is not None]
    cases = [c for c in found if c.case_id in wanted]
    if not cases:
        raise BratsError(f"no cases of split '{split}' found under {data_root}")
    choosing = run.cfg.eval.postprocess == "auto"
    val_cases = [c for c in found if c.case_id in splits.get("val", [])] if choosing else []
    needed = cases + [c for c in val_cases if c.case_id not in wanted]
    maps: dict = {}
    labels = predict_labels(run, needed, run.cfg.eval.tta, progress, maps)
    refs = references(needed)  # read once: the choice, the raw scores and the post-processed ones share them
    dest = Path(out) if out is not None else run_dir / "eval"
    choice_dir = dest if out is not None else run_dir  # predict reads RUN/postprocessing.json, never DIR's
    chosen, statement = choose_postprocessing(choice_dir, run, val_cases, labels, refs, checkpoint, split)
    raw = brats_rows(run, cases, labels, run.cfg.eval.convention, refs=refs)
    rows = brats_rows(run, cases, labels, run.cfg.eval.convention, chosen, refs) if chosen else raw
    _write(dest, t1, rows, split, statement, raw if chosen else None)
    delivered = {c.case_id: apply(labels[c.case_id], chosen) if chosen else labels[c.case_id] for c in cases}
    write_margins(dest, margin_rows(cases, delivered, refs, maps), split)
    return {"table1": t1, "per_case": rows, "per_case_no_postprocess": raw, "postprocess": chosen, "out": dest}


def _write(out: Path, t1: list[dict], rows: list[dict], split: str, statement: str,
           raw: Optional[list[dict]] = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table1.md", pooled_table_markdown(t1))
    write_csv(t1, out / "table1.csv")
    write_csv(rows, out / "per_case.csv", score_columns(rows))
    text = (f"BraTS region scores, split '{split}', original geometry (mean ± sd (median) over cases)\n\n"
            f"{statement}\n\n{summary_table(rows, summary_metrics(rows))}\n")
    stale = out / "per_case_no_postprocess.csv"
    if raw is not None:
        write_csv(raw, stale, score_columns(raw))
        text += f"\nWithout post-processing (the same cases; per case: {stale.name})\n\n" \
                f"{summary_table(raw, summary_metrics(raw))}\n"
    elif stale.exists():
        stale.unlink()  # from an earlier evaluate that chose post-processing: it would no longer be true
    atomic_write_text(out / "brats.md", text)
    write_csv(region_summary(rows, summary_metrics(rows)), out / "brats.csv")
