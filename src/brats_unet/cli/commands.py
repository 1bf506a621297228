"""The subcommands: thin wrappers over the public Python API. Heavy imports (torch, nibabel) happen
inside each command so ``brats-unet --help`` stays instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _sets(args: argparse.Namespace) -> list[str]:
    """The ``--set`` pairs, with ``--device`` as ``train.device`` and ``--fold`` as ``data.fold`` where the
    command has them."""
    device, fold = getattr(args, "device", None), getattr(args, "fold", None)
    return (list(getattr(args, "set", None) or []) + ([f"train.device={device}"] if device else [])
            + ([f"data.fold={fold}"] if fold is not None else []))


def _config(args: argparse.Namespace):  # -> Config (typed lazily: config imports yaml)
    from ..config import load_config

    return load_config(getattr(args, "config", None), _sets(args))


def cmd_check(args: argparse.Namespace) -> int:
    from ..data.check import check_dataset

    n, problems = check_dataset(args.data, args.labels, args.workers)
    for line in problems:
        print(line)
    print(f"{n} case(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    return 2 if problems else 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from ..data.cache import prepare_cache

    cfg = _config(args)
    cache = prepare_cache(args.data, cfg.data, args.out, workers=args.workers, multiple=cfg.model.multiple)
    print(f"{len(cache.case_ids)} case(s) cached in {cache.path}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from ..data.synth import write_synthetic

    folders = write_synthetic(args.out, args.cases, args.seed, tuple(args.shape))
    print(f"{len(folders)} synthetic case(s) written to {args.out}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from ..atomic_files import atomic_write_text, write_csv
    from ..evaluation.scoring import score_folders
    from ..evaluation.tables import score_columns, summary_metrics, summary_table

    rows = score_folders(args.pred, args.ref, args.labels, args.convention, progress=not args.quiet,
                         method=args.hd95, lesionwise=args.lesionwise)
    write_csv(rows, args.out, score_columns(rows))
    table = summary_table(rows, summary_metrics(rows))
    summary = Path(args.out).with_suffix(".md")
    atomic_write_text(summary, f"# Scores ({args.convention} convention, labels {args.labels})\n\n"
                               f"mean ± sd (median) over cases\n\n{table}\n")
    print(table)
    print(f"per-case scores: {args.out}; summary: {summary}")
    if args.uncertainty:
        _score_uncertainty(args)
    return 0


def _score_uncertainty(args: argparse.Namespace) -> None:
    """QU-BraTS scores per case and region into ``<out>_uncertainty.csv``, the means per region printed."""
    import numpy as np

    from ..atomic_files import write_csv
    from ..brats import REGION_NAMES
    from ..evaluation.uncertainty_scores import score_uncertainty

    rows = score_uncertainty(args.pred, args.ref, args.uncertainty, args.labels)
    out = Path(args.out).with_name(Path(args.out).stem + "_uncertainty.csv")
    write_csv(rows, out, ["case", "region", "dice_auc", "ftp_auc", "ftn_auc", "score"])
    print("\nQU-BraTS 2020 uncertainty score (mean over cases)\n\n| region | AUC Dice | AUC FTP | AUC FTN | score |\n"
          "|---|---|---|---|---|")
    for region in REGION_NAMES:
        mean = {k: float(np.mean([r[k] for r in rows if r["region"] == region]))
                for k in ("dice_auc", "ftp_auc", "ftn_auc", "score")}
        print(f"| {region} | {mean['dice_auc']:.4f} | {mean['ftp_auc']:.4f} | {mean['ftn_auc']:.4f} | "
              f"{mean['score']:.4f} |")
    print(f"per-case uncertainty scores: {out}")


def cmd_train(args: argparse.Namespace) -> int:
    from ..brats import REGION_NAMES
    from ..distributed import is_rank0
    from ..runs.folder import check_resumable, read_run_config
    from ..train.loop import train

    if args.resume and not (Path(args.out) / "last.pt").exists():
        check_resumable(Path(args.out), None, resume=True)  # says there is nothing to resume, and how to start
    cfg = read_run_config(args.out, _sets(args)) if args.resume else _config(args)
    row = train(cfg, args.data, args.out, resume=args.resume, progress=not args.quiet)
    if not is_rank0():  # under torchrun every rank gets the same row: rank 0 says it once
        return 0
    dice = "/".join(f"{row.get(f'val_{r}', float('nan')):.3f}" for r in REGION_NAMES)
    print(f"run folder: {args.out}  (last epoch: {row.get('epoch', 0):.0f}, val Dice {'/'.join(REGION_NAMES)} {dice})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation.evaluate import evaluate

    out = evaluate(args.run, args.split, args.checkpoint, args.data, progress=not args.quiet,
                   device=args.device or "auto", overrides=args.set, out=args.out)["out"]
    print((out / "table1.md").read_text())
    print((out / "brats.md").read_text())
    print(f"tables written to {out}/ (table1.md|csv, brats.md|csv, per_case.csv, margins.md|csv)")
    return 0


def _runs_and_inputs(args: argparse.Namespace) -> tuple[list[str], list]:
    """``predict RUN [RUN ...] [INPUT]``: (the runs, the cases). With explicit files every path is a run;
    otherwise the last path is the input."""
    from ..brats import MODALITIES
    from ..data.discovery import case_from_files, discover_cases
    from ..errors import DataError

    files = {k: getattr(args, k) for k in MODALITIES}
    if any(files.values()):
        return args.paths, [case_from_files(files, args.case_id, args.labels, args.brain_mask)]
    if args.brain_mask:
        raise DataError("--brain-mask goes with explicit files (--flair F --t1ce F ...), one case at a time")
    if len(args.paths) < 2:
        raise DataError("give INPUT after the run(s) (a case folder or dataset root) or explicit files "
                        "(--flair F --t1ce F ...)")
    if (Path(args.paths[-1]) / "config.yaml").is_file():
        raise DataError(f"{args.paths[-1]} is a run folder, not an input; put the case folder or dataset root last")
    return args.paths[:-1], discover_cases(args.paths[-1])


def cmd_predict(args: argparse.Namespace) -> int:
    from ..brats import MODALITIES
    from ..data.signatures import swap_warnings
    from ..infer.predict import load_runs, predict_cases
    from ..infer.uncertainty import source_note

    sets = args.set + ([f"data.nonfinite={args.nonfinite}"] if args.nonfinite else [])
    sets += [f"eval.mc_dropout={args.mc_dropout}"] if args.mc_dropout is not None else []
    runs, cases = _runs_and_inputs(args)
    run = load_runs(runs, args.checkpoint, args.device or "auto", sets)
    if any(getattr(args, m) for m in MODALITIES):  # explicit files: their content is checked against the flags
        for line in swap_warnings(cases[0], run.signatures):
            print(line, file=sys.stderr)
    if not args.quiet:
        print(f"{run.postprocess_note}" + (f" (ensemble of {len(runs)} runs)" if len(runs) > 1 else ""),
              file=sys.stderr)
        if run.engine_note:  # one run (an ensemble's members may differ)
            print(run.engine_note, file=sys.stderr)
    tta = run.cfg.eval.tta if args.tta is None else args.tta  # once: the note and the predictions must agree
    if args.uncertainty and not args.quiet:
        print(source_note(tta, len(runs), run.cfg.eval.mc_dropout), file=sys.stderr)
    done = predict_cases(run, cases, args.out, tta, args.save_probabilities, args.labels,
                         progress=not args.quiet, naming=args.naming, uncertainty=args.uncertainty)
    print(done.summary(args.out))
    return 2 if done.failures else 0


def cmd_report(args: argparse.Namespace) -> int:
    if args.html:
        from ..evaluation.html import write_html_report

        out = write_html_report(args.run, args.data, args.checkpoint, args.device or "auto")
        print(f"HTML report: {out} (one self-contained file; open it in any browser)")
        return 0
    from ..evaluation.qualitative import make_slice_comparison
    from ..infer.predict import load_run
    from ..plots import training_curves
    from ..runs.folder import read_metrics

    fig2 = training_curves(read_metrics(args.run), Path(args.run) / "figures" / "fig2_curves.png")
    fig3 = make_slice_comparison(args.run, args.case, args.slice, args.data, args.checkpoint,
                                 run=load_run(args.run, args.checkpoint, args.device or "auto"))
    print(f"Figure 2: {fig2}\nFigure 3: {fig3}")
    margins = Path(args.run) / "eval" / "margins.csv"
    if margins.exists():  # written by evaluate: where the errors lie relative to the tumour boundary
        from ..atomic_files import read_csv
        from ..plots import margin_bars

        rows = [{k: v if k in ("case", "region") else float(v) for k, v in r.items()} for r in read_csv(margins)]
        print(f"margins: {margin_bars(rows, Path(args.run) / 'figures' / 'margins.png')}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import demo

    demo(args.data, args.minutes, args.out, device=args.device or "auto")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    from ..study.runner import run_study
    from ..study.spec import load_study, only

    study = load_study(args.study, _sets(args))
    if args.only:
        study = only(study, args.only)
    run_study(study, args.data, args.out, dry_run=args.dry_run, progress=not args.quiet)
    if not args.dry_run:
        print(f"report: {args.out}/report.md\nsummary: {args.out}/summary.csv")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..infer.export import default_out, export_run
    from ..infer.predict import load_run

    run = load_run(args.run, args.checkpoint, "cpu", ["eval.engine=torch"], as_trained=True)
    source = Path(args.run) / f"{args.checkpoint}.pt"  # named in the card (not for a packed run: no file)
    out = export_run(run, default_out(Path(args.run), args.format, args.out), args.format,
                     checkpoint=source if source.is_file() else None)
    print(f"{args.format} model written to {out} (what it expects: {out}.json)")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from ..runs.pack import pack

    print(f"packed {args.run} into {pack(args.run, args.out, args.checkpoint)}")
    return 0


def cmd_unpack(args: argparse.Namespace) -> int:
    from ..runs.pack import unpack

    print(f"run folder: {unpack(args.archive, args.out)}")
    return 0
