"""The ``brats-unet`` command line. Subcommands are thin wrappers over public functions; heavy
imports (torch, nibabel) happen inside each command so ``--help`` stays instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__


def _config(args):
    from .config import load_config

    return load_config(getattr(args, "config", None), getattr(args, "set", None) or [])


def cmd_check(args) -> int:
    from .data.check import check_dataset

    n, problems = check_dataset(args.data, args.labels, args.workers)
    for line in problems:
        print(line)
    print(f"{n} case(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    return 2 if problems else 0


def cmd_prepare(args) -> int:
    from .data.cache import prepare_cache

    cfg = _config(args)
    cache = prepare_cache(args.data, cfg.data, args.out, workers=args.workers)
    print(f"{len(cache.case_ids)} case(s) cached in {cache.path}")
    return 0


def cmd_synth(args) -> int:
    from .data.synth import write_synthetic

    folders = write_synthetic(args.out, args.cases, args.seed, tuple(args.shape))
    print(f"{len(folders)} synthetic case(s) written to {args.out}")
    return 0


def cmd_score(args) -> int:
    from .metrics.scoring import SCORE_COLUMNS, score_folders, summary_table, write_rows

    rows = score_folders(args.pred, args.ref, args.labels, args.convention)
    write_rows(rows, args.out, SCORE_COLUMNS)
    print(summary_table(rows))
    print(f"per-case scores: {args.out}")
    return 0


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file (defaults: the case study's recipe)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. model.activation=prelu (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public so tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(prog="brats-unet", description="Train, compare and apply U-Net models for BraTS brain-tumour segmentation.")
    parser.add_argument("--version", action="version", version=f"brats-unet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="validate every case of a dataset and list all problems")
    p.add_argument("data")
    p.add_argument("--labels", default="auto", help="label scheme: auto|brats2020|brats2023|msd")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("prepare", help="build the preprocessed slice cache")
    p.add_argument("data")
    p.add_argument("--out", help="cache root (default $BRATS_UNET_CACHE or ~/.cache/brats-unet)")
    p.add_argument("--workers", type=int, default=2)
    _add_config_args(p)
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("synth", help="write synthetic BraTS2020-layout phantoms")
    p.add_argument("out")
    p.add_argument("--cases", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", type=int, nargs=3, default=[240, 240, 155], metavar=("X", "Y", "Z"))
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("score", help="score predicted seg NIfTIs against reference ones")
    p.add_argument("pred")
    p.add_argument("ref")
    p.add_argument("--out", default="scores.csv")
    p.add_argument("--labels", default="brats2020", choices=["brats2020", "brats2023", "msd"])
    p.add_argument("--convention", default="brats2020", choices=["brats2020", "brats2023"])
    p.set_defaults(func=cmd_score)

    _add_pipeline_commands(sub)
    return parser


def _add_pipeline_commands(sub) -> None:
    """train / evaluate / predict / report / demo (see pipeline_cli.py)."""
    from .pipeline_cli import add_commands

    add_commands(sub, _add_config_args)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a subcommand; a BratsError becomes one stderr line and exit code 2."""
    args = build_parser().parse_args(argv)
    from .errors import BratsError

    try:
        return int(args.func(args) or 0)
    except BratsError as exc:
        print(f"brats-unet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"brats-unet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
