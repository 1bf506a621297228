"""The ``brats-unet`` command line: one parser over the subcommands of :mod:`.commands`.

Choices shown by ``--help`` come from the modules that own them (:mod:`brats_unet.brats` for label
schemes and modalities, the config's ``Literal`` annotations for conventions).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from ..brats import DASH_TOKENS, MODALITIES, SCHEME_NAMES
from ..config import DataConfig, EvalConfig, TrainConfig, field_choices
from ..errors import BratsError, cause
from ..version import __version__
from . import commands as c


def _add_set(p: argparse.ArgumentParser, help: str) -> None:
    """``--set a=1 b=2`` (Hydra-style, several pairs) or ``--set a=1 --set b=2``."""
    p.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE", default=[], help=help)


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=field_choices(TrainConfig, "device"), default=None,
                   help="where the model runs (default: the config's train.device, auto)")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file (defaults: the case study's recipe)")
    _add_set(p, "overrides, e.g. --set model.activation=prelu train.epochs=10")


def _data_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="validate every case of a dataset and list all problems")
    p.add_argument("data")
    p.add_argument("--labels", default="auto", choices=("auto", *SCHEME_NAMES), help="label scheme (default: auto)")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=c.cmd_check)

    p = sub.add_parser("prepare", help="build the preprocessed slice cache")
    p.add_argument("data")
    p.add_argument("--out", help="cache root (default $BRATS_UNET_CACHE or ~/.cache/brats-unet)")
    p.add_argument("--workers", type=int, default=2)
    _add_config_args(p)
    p.set_defaults(func=c.cmd_prepare)

    p = sub.add_parser("synth", help="write synthetic BraTS2020-layout phantoms")
    p.add_argument("out")
    p.add_argument("--cases", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", type=int, nargs=3, default=[240, 240, 155], metavar=("X", "Y", "Z"))
    p.set_defaults(func=c.cmd_synth)

    p = sub.add_parser("score", help="score predicted seg NIfTIs against reference ones")
    p.add_argument("pred")
    p.add_argument("ref")
    p.add_argument("--out", default="scores.csv")
    p.add_argument("--labels", default="brats2020", choices=SCHEME_NAMES)
    p.add_argument("--convention", default="brats2020", choices=field_choices(EvalConfig, "convention"),
                   help="whose rules: brats2020 (medpy/nnU-Net), brats2023 (the 2023-2024 organisers' code), "
                        "brats2025 (brats-evaluation / panoptica)")
    p.add_argument("--hd95", default="auto", choices=field_choices(EvalConfig, "hd95"),
                   help="HD95 surface definition (default: the convention's)")
    p.add_argument("--lesionwise", default="auto", choices=field_choices(EvalConfig, "lesionwise"),
                   help="lesion-wise scores with a sub-challenge's parameters (auto: from BraTS-GLI-... case names)")
    p.add_argument("--uncertainty", metavar="DIR", help="also the QU-BraTS 2020 uncertainty score of the maps "
                   "DIR/<case>_unc_{whole,core,enhance}.nii.gz (REF must hold the cases' images: brain = T1 > 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=c.cmd_score)


def _model_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (defaults: the case study's recipe)")
    p.add_argument("--data", required=True, help="dataset root (any supported BraTS layout)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.pt with the stored config")
    p.add_argument("--fold", type=int, metavar="K", help="train cross-validation fold K (data.fold; data.folds=5 "
                   "folds over the non-test cases, written as nnU-Net's splits_final.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_args(p)
    _add_device(p)
    p.set_defaults(func=c.cmd_train)

    p = sub.add_parser("evaluate", help="Table 1 and BraTS region scores of a trained run")
    p.add_argument("run")
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--data", help="dataset root (default: the one the run was trained on)")
    p.add_argument("--out", help="write the tables and the post-processing choice here, not in RUN/eval and RUN "
                                 "(the run stays as it was: scoring other settings changes nothing predict uses)")
    p.add_argument("--quiet", action="store_true")
    _add_set(p, "inference settings, e.g. --set eval.tta=true eval.batch_size=16 (eval.* and data.nonfinite)")
    _add_device(p)
    p.set_defaults(func=c.cmd_evaluate)

    p = sub.add_parser("predict", help="segment new cases into NIfTI masks in their original geometry",
                       usage="%(prog)s RUN [RUN ...] [INPUT] --out OUT [options]")
    p.add_argument("paths", nargs="+", metavar="RUN [RUN ...] INPUT",
                   help="run folder(s) or packed run.zip(s), then a case folder or dataset root (no INPUT with "
                        "explicit files); several runs (e.g. the 5 folds) are an ensemble averaging probabilities")
    p.add_argument("--out", required=True)
    for mod in MODALITIES:
        alias = next(token for token, name in DASH_TOKENS.items() if name == mod)  # BraTS 2023+ names
        p.add_argument(f"--{mod}", f"--{alias}", dest=mod, help=f"explicit {mod} file")
    p.add_argument("--case-id", help="case id for explicit files")
    p.add_argument("--brain-mask", metavar="FILE", help="with explicit files: a brain mask on their grid (non-zero = "
                   "brain), for images that are not skull-stripped or whose background is not one value")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, help="average predictions over flips, or not "
                   "(default: the run's eval.tta, the setting evaluate scored it with)")
    p.add_argument("--mc-dropout", type=int, metavar="N", help="average N Monte-Carlo dropout passes (a run "
                   "trained with model.dropout > 0; eval.mc_dropout)")
    p.add_argument("--save-probabilities", action="store_true", help="also write <case>_probabilities.npz")
    p.add_argument("--uncertainty", action="store_true", help="also write QU-BraTS uncertainty maps <case>_unc_whole, "
                   "_unc_core, _unc_enhance (uint8 0..100): the entropy of each region's probability, averaged over "
                   "the runs, --mc-dropout samples and --tta flips given")
    p.add_argument("--labels", choices=SCHEME_NAMES, help="the input's edition and the output's label codes "
                   "(default: the edition the file names show; brats2020 for names that show none)")
    p.add_argument("--naming", default="default", choices=("default", "challenge"),
                   help="output names: <case>_seg.nii.gz, or <case>.nii.gz as the BraTS portals expect")
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--nonfinite", choices=field_choices(DataConfig, "nonfinite"),
                   help="NaN/inf voxels in an image: refuse the case (default: the run's data.nonfinite) or read "
                        "them as 0 with a warning")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-case lines")
    _add_set(p, "inference settings, e.g. --set eval.batch_size=8 (eval.* and data.nonfinite)")
    _add_device(p)
    p.set_defaults(func=c.cmd_predict)


def _report_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="regenerate Figure 2 (curves) and Figure 3 (a qualitative slice)")
    p.add_argument("run")
    p.add_argument("--case", help="case id (default: first test case)")
    p.add_argument("--slice", type=int, help="axial slice index (default: largest tumour area)")
    p.add_argument("--data", help="dataset root (default: the one the run was trained on)")
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--html", action="store_true", help="write RUN/report.html: curves, tables, a sortable per-case "
                   "table and a slice viewer per evaluated case (run evaluate first)")
    _add_device(p)
    p.set_defaults(func=c.cmd_report)

    p = sub.add_parser("study", help="train a grid of variants under identical conditions and compare them")
    p.add_argument("study", help="study YAML file (see studies/)")
    p.add_argument("--data", required=True, action="append", help="dataset root; give it several times to pool "
                   "roots into one dataset (case ids must be unique across them)")
    p.add_argument("--out", required=True)
    p.add_argument("--dry-run", action="store_true", help="list the runs and their state, train nothing")
    p.add_argument("--only", nargs="+", metavar="VARIANT", default=None,
                   help="run only these variants (and the baseline); the report compares just them")
    _add_set(p, "overrides applied to every variant (join the budget), e.g. --set train.max_minutes=5")
    p.add_argument("--quiet", action="store_true")
    _add_device(p)
    p.set_defaults(func=c.cmd_study)

    p = sub.add_parser("demo", help="train briefly, evaluate, predict one case, draw the figures")
    p.add_argument("--data", help="dataset root (default: ../shared/data/brats2018-sample, else phantoms)")
    p.add_argument("--minutes", type=float, default=3.0, help="training budget")
    p.add_argument("--out", default="demo-output")
    _add_device(p)
    p.set_defaults(func=c.cmd_demo)


def _share_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run's network as ONNX or TorchScript (with a JSON card); RUN/model.onnx "
                       "speeds up predict on CPUs without fast bf16 (eval.engine)")
    p.add_argument("run", help="run folder or packed run.zip")
    p.add_argument("--format", required=True, choices=["onnx", "torchscript"])
    p.add_argument("--out", help="file to write (default RUN/model.onnx or RUN/model.pt)")
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.set_defaults(func=c.cmd_export)

    p = sub.add_parser("pack", help="zip a run folder (config, checkpoint, split, version) for a colleague")
    p.add_argument("run")
    p.add_argument("out", help="the zip to write, e.g. run.zip")
    p.add_argument("--checkpoint", default="best", choices=["best", "last", "both"])
    p.set_defaults(func=c.cmd_pack)

    p = sub.add_parser("unpack", help="extract a packed run into a run folder (predict also reads the zip as is)")
    p.add_argument("archive")
    p.add_argument("out", help="folder to create")
    p.set_defaults(func=c.cmd_unpack)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public so tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(prog="brats-unet", description="Train, compare and apply U-Net models for "
                                     "BraTS brain-tumour segmentation.")
    parser.add_argument("--version", action="version", version=f"brats-unet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _data_commands(sub)
    _model_commands(sub)
    _report_commands(sub)
    _share_commands(sub)
    return parser


def _who(command: str) -> str:
    """``brats-unet train``, or ``brats-unet train [rank 1]`` under torchrun (each rank reports its own)."""
    rank = os.environ.get("RANK")
    return f"brats-unet {command}" + (f" [rank {rank}]" if rank is not None and os.environ.get("WORLD_SIZE", "1") != "1"
                                      else "")


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: run a subcommand; a BratsError becomes one stderr line and exit code 2.

    A torchrun process that joined a process group leaves it and ends at once with the command's code
    (``distributed.exit_now``: gloo's threads may not outlive the interpreter's shutdown).
    """
    args = build_parser().parse_args(argv)
    code: Optional[int] = None
    try:
        code = _run(args)
        return code
    finally:
        if "torch.distributed" in sys.modules:  # only a command that ran a model can have joined a group
            from ..distributed import exit_now, teardown

            if teardown() and code is not None:  # an escaping exception keeps its traceback and normal exit
                exit_now(code)


def _run(args: argparse.Namespace) -> int:
    """The subcommand's exit code; the errors a user can fix become one stderr line and code 2."""
    try:
        return int(args.func(args) or 0)
    except BratsError as exc:
        print(f"{_who(args.command)}: error: {' '.join(str(exc).split())}", file=sys.stderr)  # always one line
        return 2
    except OSError as exc:  # a read or write the package did not wrap: still one line, never a traceback
        print(f"{_who(args.command)}: error: {exc.filename or 'a file'}: {cause(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{_who(args.command)}: interrupted", file=sys.stderr)
        return 130
