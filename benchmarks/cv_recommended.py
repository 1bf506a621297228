"""4-fold patient-level cross-validation on the 16-case sample: a recipe against the MONAI-style reference.

Fold K tests on 4 cases and trains on the other 12 (11 train + 1 validation), as written to
``benchmarks/splits/cv4-foldK.json`` (seed 0; every recipe sees the same folds). Each recipe trains under
one budget per fold, either wall-clock (``--minutes``, the brief's 20 minutes on 2 CPU cores with nothing
else running) or a number of optimisation steps (``--steps``: the steps that recipe completes in 20 minutes
on those cores, for screening candidates on a faster device). Copies of the weights taken at fractions of
the budget (``--marks``) and the last weights are scored on the fold's test cases at the original geometry
(no post-processing, as for every recipe here), so each run also gives a time-to-quality curve. The last
weights are also scored as ``predict`` would deliver them, post-processed as the product chooses on the
fold's validation case (``eval.postprocess: auto``), recorded as recipe ``<recipe>-pp``; ``rescore`` adds
``<recipe>-tta-pp`` from a finished fold's last.pt (flip TTA, as ``predict --set eval.tta=true``). Each fold's
resolved config.yaml and run.json (version, git hash, seed) are kept beside its recorded scores.

Run (from the repository root, nothing else running; resumes: a fold with its per_case.csv is skipped):
  .venv/bin/python benchmarks/cv_recommended.py run --recipe reference --minutes 20 --out runs/cv \
      --record benchmarks/studies/cv-recommended/folds
  .venv/bin/python benchmarks/cv_recommended.py run --recipe recommended --config configs/recommended.yaml \
      --minutes 20 --out runs/cv --record benchmarks/studies/cv-recommended/folds
  .venv/bin/python benchmarks/cv_report.py --out benchmarks/studies/cv-recommended/folds --candidate recommended \
      --to benchmarks/studies/cv-recommended
  .venv/bin/python benchmarks/cv_recommended.py rescore --recipe recommended --config configs/recommended.yaml \
      --out runs/cv --record benchmarks/studies/cv-recommended/folds --folds 3
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from brats_unet.atomic_files import write_csv
from brats_unet.config import load_config
from brats_unet.data.discovery import discover_cases
from brats_unet.evaluation.evaluate import brats_rows, predict_labels, references
from brats_unet.infer.postprocess import apply, choose, dice_table
from brats_unet.infer.predict import LoadedRun
from brats_unet.runs.checkpoint import load_checkpoint
from brats_unet.runs.folder import write_run_files
from brats_unet.train.loop import Trainer
from common import REPO, machine, require_sample

FOLDS, SEED = 4, 0
SPLITS = REPO / "benchmarks" / "splits"
# the wall-clock budget of quality.py: epochs of 100 steps, as many as the minutes allow
WALL = ["train.epochs=1000", "train.steps_per_epoch=100"]


def cv_splits(case_ids: list[str], folds: int = FOLDS, seed: int = SEED) -> list[dict]:
    """``folds`` splits whose test parts partition the cases; of the rest one case validates, the others train."""
    rng = np.random.default_rng(seed)
    order = [case_ids[i] for i in rng.permutation(len(case_ids))]
    out = []
    for k, test in enumerate(np.array_split(np.array(order, dtype=object), folds)):
        rest = [c for c in order if c not in set(test)]
        out.append({"seed": seed, "fold": k, "train": sorted(rest[1:]), "val": [rest[0]], "test": sorted(test)})
    return out


def split_file(sample: Path, fold: int) -> Path:
    """The committed split of ``fold`` (written on first use, then only read)."""
    path = SPLITS / f"cv{FOLDS}-fold{fold}.json"
    if not path.exists():
        splits = cv_splits(sorted(c.case_id for c in discover_cases(sample)))
        for k, s in enumerate(splits):
            (SPLITS / f"cv{FOLDS}-fold{k}.json").write_text(json.dumps(s, indent=2) + "\n")
    return path


class Snapshots:
    """``on_step`` hook of the Trainer: copies the weights the first time each budget fraction is passed."""

    def __init__(self, marks: list[float], minutes: float | None, steps: int | None):
        self.marks, self.minutes, self.steps = sorted(marks), minutes, steps
        self.trainer: Trainer | None = None
        self.t0: float | None = None
        self.done = 0  # steps started so far
        self.taken: dict[float, tuple[dict, int, float]] = {}  # mark -> (weights, steps, seconds)

    def spent(self) -> float:
        if self.minutes:
            return (time.monotonic() - self.t0) / (60 * self.minutes)
        return self.done / self.steps

    def __call__(self, epoch: int, step: int) -> None:
        if self.t0 is None:
            self.t0 = time.monotonic()
        for mark in self.marks:
            if mark not in self.taken and self.spent() >= mark:
                assert self.trainer is not None
                weights = {k: v.detach().to("cpu", copy=True) for k, v in self.trainer.net.state_dict().items()}
                self.taken[mark] = (weights, self.done, time.monotonic() - self.t0)
        self.done += 1


def build(recipe: str, config: str | None, sets: list[str], sample: Path, run_dir: Path, budget: list[str],
          hook: Snapshots | None) -> Trainer:
    """The Trainer of ``recipe``: ``reference`` is benchmarks/monai_baseline.py's, else ``config`` + ``sets``."""
    if recipe == "reference":
        from monai_baseline import build_trainer

        return build_trainer(sample, run_dir, budget + sets, on_step=hook)
    cfg = load_config(config, overrides=budget + sets)
    return Trainer(cfg, sample, run_dir, progress=False, on_step=hook)


def loaded(trainer: Trainer, weights: dict) -> LoadedRun:
    trainer.net.load_state_dict(weights)
    return LoadedRun(trainer.cfg, trainer.net.eval(), trainer.device, trainer.precision)


def score(trainer: Trainer, weights: dict, cases: list, refs: dict) -> list[dict]:
    """Per case x region rows of ``weights`` on ``cases``, no post-processing."""
    run = loaded(trainer, weights)
    return brats_rows(run, cases, predict_labels(run, cases), trainer.cfg.eval.convention, refs=refs)


def score_postprocessed(trainer: Trainer, weights: dict, cases: list, refs: dict, val: list,
                        tta: bool = False) -> list[dict]:
    """Rows as ``score``'s, with the post-processing ``predict`` would apply: the product's choice
    (``eval.postprocess: auto``: infer/postprocess.py's grid, chosen on the fold's validation case) applied
    to every test case (``val``: the fold's validation cases). Each row names the choice (``postprocess``).
    ``tta``: flip test-time augmentation for the validation and test predictions (``--set eval.tta=true``)."""
    run = loaded(trainer, weights)
    val_labels, val_refs = predict_labels(run, val, tta), references(val)
    chosen, _, _ = choose({c.case_id: dice_table(val_labels[c.case_id], val_refs[c.case_id]) for c in val})
    labels = {case_id: apply(lab, chosen) for case_id, lab in predict_labels(run, cases, tta).items()}
    rows = brats_rows(run, cases, labels, trainer.cfg.eval.convention, refs=refs)
    return [{**r, "postprocess": chosen.describe()} for r in rows]


def fold_cases(trainer: Trainer, sample: Path) -> tuple[list, list]:
    """The fold's test and validation cases, from the trainer's split (the sample discovered once)."""
    found = discover_cases(sample)
    return ([c for c in found if c.case_id in set(trainer.split["test"])],
            [c for c in found if c.case_id in set(trainer.split["val"])])


def keep_run_files(args: argparse.Namespace, trainer: Trainer, sample: Path, fold: int, run_dir: Path,
                   budget: list[str]) -> None:
    """The fold run's config.yaml, split.json and run.json (version, git hash, seed), as ``train`` writes them;
    copied beside the recorded scores, which outlive the run folder. The reference's config.yaml describes the
    data and budget it shares with brats-unet; its network and optimiser are monai_baseline.py's."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_files(run_dir, trainer.cfg, trainer.split, sample,
                    {"recipe": args.recipe, "fold": fold, "overrides": budget + args.set})
    if args.record:
        dest = Path(args.record) / args.recipe / f"fold{fold}"
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("config.yaml", "run.json"):
            shutil.copyfile(run_dir / name, dest / name)


def run_fold(args: argparse.Namespace, sample: Path, fold: int) -> None:
    folder = Path(args.out) / args.recipe / f"fold{fold}"
    record = Path(args.record) / args.recipe / f"fold{fold}" / "per_case.csv" if args.record else None
    for done in (folder / "per_case.csv", record):
        if done is not None and done.exists():
            print(f"{args.recipe} fold {fold}: done already ({done})")
            return
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted fold starts again: its budget must be whole
    folder.mkdir(parents=True)
    budget = [f"data.split_file={split_file(sample, fold)}"]
    epochs = args.steps // 100 if args.steps else 0  # main() admits whole epochs of 100 steps only
    if args.minutes:
        budget += WALL + [f"train.max_minutes={args.minutes}"]
    else:
        budget += [f"train.epochs={epochs}", "train.steps_per_epoch=100"]
    hook = Snapshots(args.marks, args.minutes, 100 * epochs)
    trainer = build(args.recipe, args.config, args.set, sample, folder / "run", budget, hook)
    hook.trainer = trainer
    keep_run_files(args, trainer, sample, fold, folder / "run", budget)
    print(f"{args.recipe} fold {fold}: training on {trainer.device.type}", flush=True)
    t0 = time.monotonic()
    trainer.fit()
    seconds = time.monotonic() - t0
    print(f"{args.recipe} fold {fold}: trained {hook.done} steps in {seconds:.0f} s; scoring", flush=True)
    hook.taken[1.0] = ({k: v.detach().to("cpu", copy=True) for k, v in trainer.net.state_dict().items()},
                       hook.done, seconds)
    cases, val = fold_cases(trainer, sample)
    refs = references(cases)
    equiv = args.minutes or args.equiv_minutes
    where = machine() if trainer.device.type == "cpu" else torch.cuda.get_device_name(trainer.device)
    rows = []
    for mark, (weights, steps, secs) in sorted(hook.taken.items()):
        for row in score(trainer, weights, cases, refs):
            rows.append({"recipe": args.recipe, "fold": fold, "mark": mark, "minutes": mark * equiv, "steps": steps,
                         "seconds": round(secs, 1), "device": trainer.device.type, "machine": where, **row})
    weights, steps, secs = hook.taken[1.0]
    post = [{"recipe": f"{args.recipe}-pp", "fold": fold, "mark": 1.0, "minutes": equiv, "steps": steps,
             "seconds": round(secs, 1), "device": trainer.device.type, "machine": where, **row}
            for row in score_postprocessed(trainer, weights, cases, refs, val)]
    print(f"{args.recipe} fold {fold}: post-processing chosen on validation: {post[0]['postprocess']}", flush=True)
    # the post-processed rows first: a fold counts as done once its (unsuffixed) per_case.csv exists
    for name, table in ((f"{args.recipe}-pp", post), (args.recipe, rows)):
        write_csv(table, Path(args.out) / name / f"fold{fold}" / "per_case.csv")
        if record is not None:  # the scores alone, to commit: runs/ holds weights and does not outlive a checkout
            (Path(args.record) / name / f"fold{fold}").mkdir(parents=True, exist_ok=True)
            write_csv(table, Path(args.record) / name / f"fold{fold}" / "per_case.csv")
    last = [r for r in rows if r["mark"] == 1.0]
    dice = {reg: np.mean([r["dice"] for r in last if r["region"] == reg]) for reg in ("WT", "TC", "ET")}
    print(f"{args.recipe} fold {fold}: {hook.done} steps ({hook.done * trainer.cfg.train.batch_size / seconds:.1f}"
          f" slices/s incl. validation) in {seconds / 60:.1f} min; test Dice WT/TC/ET "
          f"{dice['WT']:.3f}/{dice['TC']:.3f}/{dice['ET']:.3f}", flush=True)


def rescore_fold(args: argparse.Namespace, sample: Path, fold: int) -> None:
    """A finished fold's last.pt scored with flip TTA and post-processing, as ``predict --set eval.tta=true``
    delivers it: rows ``<recipe>-tta-pp``. The ``<recipe>-pp`` rows are re-derived first without TTA and must
    equal the recorded ones: that proves last.pt holds the weights the run scored."""
    folder, where = Path(args.out) / args.recipe / f"fold{fold}", Path(args.record or args.out)
    with open(where / f"{args.recipe}-pp" / f"fold{fold}" / "per_case.csv", newline="") as fh:
        recorded = list(csv.DictReader(fh))
    trainer = build(args.recipe, args.config, args.set, sample, folder / "rescore",
                    [f"data.split_file={split_file(sample, fold)}"], None)
    weights = load_checkpoint(folder / "run" / "last.pt")["model"]
    cases, val = fold_cases(trainer, sample)
    refs = references(cases)
    again = score_postprocessed(trainer, weights, cases, refs, val)
    worst = max(abs(float(r["dice"]) - a["dice"]) for r, a in zip(recorded, again, strict=True))
    if worst > 1e-6:
        raise SystemExit(f"{folder}/run/last.pt does not reproduce the recorded scores "
                         f"(max Dice difference {worst:.4f})")
    keep = {k: recorded[0][k] for k in ("fold", "mark", "minutes", "steps", "seconds", "device", "machine")}
    rows = [{"recipe": f"{args.recipe}-tta-pp", **keep, **row}
            for row in score_postprocessed(trainer, weights, cases, refs, val, tta=True)]
    for base in {Path(args.out), where}:
        write_csv(rows, base / f"{args.recipe}-tta-pp" / f"fold{fold}" / "per_case.csv")
    dice = {reg: np.mean([r["dice"] for r in rows if r["region"] == reg]) for reg in ("WT", "TC", "ET")}
    print(f"{args.recipe} fold {fold}: last.pt reproduces the recorded -pp rows; with TTA Dice WT/TC/ET "
          f"{dice['WT']:.3f}/{dice['TC']:.3f}/{dice['ET']:.3f} ({rows[0]['postprocess']})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["run", "rescore", "splits"],
                    help="rescore: a finished fold's last.pt again, with TTA (<recipe>-tta-pp rows)")
    ap.add_argument("--recipe", default="reference", help="'reference' (MONAI BasicUNet) or a name for --config")
    ap.add_argument("--config", default=None, help="the recipe's YAML (not for the reference)")
    ap.add_argument("--set", action="append", default=[], help="config overrides of the recipe")
    ap.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget per fold")
    ap.add_argument("--steps", type=int, default=None,
                    help="step budget per fold (instead of --minutes), a multiple of 100")
    ap.add_argument("--equiv-minutes", type=float, default=20.0,
                    help="with --steps: the CPU minutes those steps stand for (the curves' x axis)")
    ap.add_argument("--marks", type=float, nargs="*", default=[0.25, 0.5], help="budget fractions scored too")
    ap.add_argument("--out", default="runs/cv")
    ap.add_argument("--record", default=None,
                    help="also write each fold's per_case.csv under RECORD/<recipe>/foldK/ (a committed folder)")
    args = ap.parse_args()
    sample = require_sample()
    if args.command == "splits":
        print(*(split_file(sample, k) for k in range(FOLDS)), sep="\n")
        return
    if args.recipe != "reference" and not args.config:
        ap.error("a recipe other than 'reference' needs --config")
    if args.command == "rescore":
        for fold in args.folds:
            rescore_fold(args, sample, fold)
        return
    if (args.minutes is None) == (args.steps is None):
        ap.error("give one budget: --minutes or --steps")
    if args.steps is not None and (args.steps <= 0 or args.steps % 100):
        # the runner trains whole epochs of 100 steps: any other count would silently train more steps
        ap.error(f"--steps must be a positive multiple of 100 (whole epochs of 100 steps), got {args.steps}")
    for fold in args.folds:
        run_fold(args, sample, fold)


if __name__ == "__main__":
    main()
