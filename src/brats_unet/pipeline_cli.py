"""Parsers and thin wrappers of the pipeline subcommands (train, evaluate, predict, report, demo)."""

from __future__ import annotations



def cmd_train(args) -> int:
    from .config import load_config
    from .train.loop import train
    from .train.rundir import read_run_config

    if args.resume:
        cfg = read_run_config(args.out, args.set or [])
    else:
        cfg = load_config(args.config, args.set or [])
    row = train(cfg, args.data, args.out, resume=args.resume, progress=not args.quiet)
    print(f"run folder: {args.out}  (last epoch: {row.get('epoch', 0):.0f}, val Dice WT/TC/ET "
          f"{row.get('val_WT', float('nan')):.3f}/{row.get('val_TC', float('nan')):.3f}/{row.get('val_ET', float('nan')):.3f})")
    return 0


def cmd_evaluate(args) -> int:
    from .report.evaluate import evaluate

    evaluate(args.run, args.split, args.checkpoint, args.data, progress=not args.quiet)
    out = f"{args.run}/eval"
    print(open(f"{out}/table1.md").read())
    print(open(f"{out}/brats.md").read())
    print(f"tables written to {out}/ (table1.md|csv, brats.md|csv, per_case.csv)")
    return 0


def _inputs(args):
    from .data.discovery import case_from_files, discover_cases
    from .errors import DataError

    files = {k: getattr(args, k) for k in ("flair", "t1", "t1ce", "t2")}
    if any(files.values()):
        return [case_from_files(files, args.case_id)]
    if not args.input:
        raise DataError("give INPUT (a case folder or dataset root) or explicit files (--flair F --t1ce F ...)")
    return discover_cases(args.input)


def cmd_predict(args) -> int:
    from .infer.predict import load_run, predict_cases

    run = load_run(args.run, args.checkpoint)
    written, failures = predict_cases(run, _inputs(args), args.out, args.tta, args.save_probabilities, args.labels)
    print(f"{len(written)} segmentation(s) written to {args.out}" + (f", {len(failures)} failed" if failures else ""))
    return 2 if failures else 0


def cmd_report(args) -> int:
    from .report.figures import figure2
    from .report.qualitative import make_figure3
    from .train.rundir import read_metrics

    fig2 = figure2(read_metrics(args.run), f"{args.run}/figures/fig2_curves.png")
    fig3 = make_figure3(args.run, args.case, args.slice, args.data, args.checkpoint)
    print(f"Figure 2: {fig2}\nFigure 3: {fig3}")
    return 0


def cmd_demo(args) -> int:
    from .report.demo import demo

    demo(args.data, args.minutes, args.out)
    return 0


def cmd_study(args) -> int:
    from .report.study import load_study, run_study

    study = load_study(args.study, args.set or [])
    run_study(study, args.data, args.out, dry_run=args.dry_run, progress=not args.quiet)
    if not args.dry_run:
        print(f"report: {args.out}/report.md\nsummary: {args.out}/summary.csv")
    return 0


def add_commands(sub, add_config_args) -> None:
    """Register the pipeline subcommands on an argparse subparsers object."""
    p = sub.add_parser("train", help="train a model (defaults: the case study's recipe)")
    p.add_argument("--data", required=True, help="dataset root (any supported BraTS layout)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.pt with the stored config")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="Table 1 and BraTS region scores of a trained run")
    p.add_argument("run")
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--data", help="dataset root (default: the one the run was trained on)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="segment new cases into NIfTI masks in their original geometry")
    p.add_argument("run")
    p.add_argument("input", nargs="?", help="a case folder or a dataset root")
    p.add_argument("--out", required=True)
    for mod in ("flair", "t1", "t1ce", "t2"):
        p.add_argument(f"--{mod}", help=f"explicit {mod} file")
    p.add_argument("--case-id", help="case id for explicit files")
    p.add_argument("--tta", action="store_true", help="average predictions over flips")
    p.add_argument("--save-probabilities", action="store_true", help="also write <case>_probabilities.npz")
    p.add_argument("--labels", choices=["brats2020", "brats2023", "msd"], help="output label codes (default: input edition)")
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("report", help="regenerate Figure 2 (curves) and Figure 3 (a qualitative slice)")
    p.add_argument("run")
    p.add_argument("--case", help="case id (default: first test case)")
    p.add_argument("--slice", type=int, help="axial slice index (default: largest tumour area)")
    p.add_argument("--data", help="dataset root (default: the one the run was trained on)")
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("study", help="train a grid of variants under identical conditions and compare them")
    p.add_argument("study", help="study YAML file (see studies/)")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dry-run", action="store_true", help="list the runs and their state, train nothing")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override applied to every variant (joins the budget)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser("demo", help="train briefly, evaluate, predict one case, draw the figures")
    p.add_argument("--data", help="dataset root (default: ../shared/data/brats2018-sample, else phantoms)")
    p.add_argument("--minutes", type=float, default=3.0, help="training budget")
    p.add_argument("--out", default="demo-output")
    p.set_defaults(func=cmd_demo)


