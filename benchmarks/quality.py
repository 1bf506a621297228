"""Quality check on the real sample: train a recipe for a fixed wall-clock budget on 12 of the 16 cases
(11 train + 1 validation), evaluate on the other 4 at the original geometry.

Run: .venv/bin/python benchmarks/quality.py --config configs/paper.yaml --minutes 20 --out runs/quality-paper
The split is seeded (``--seed``) so every recipe sees the same 4 unseen test cases.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from brats_unet.data.discovery import discover_cases
from brats_unet.data.split import make_split
from common import require_sample


def leave_out_split(sample: Path, seed: int) -> dict:
    """12 training cases (11 train + 1 val) and 4 unseen test cases."""
    ids = [c.case_id for c in discover_cases(sample)]
    return make_split(ids, (0.6875, 0.0625, 0.25), seed)


def write_leave_out_split(sample: Path, out: Path, seed: int) -> Path:
    """Create ``out`` and write the seeded leave-out split there; return the split file."""
    out.mkdir(parents=True, exist_ok=True)
    split_file = out / "leave-out-split.json"
    split_file.write_text(json.dumps(leave_out_split(sample, seed), indent=2))
    return split_file


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/paper.yaml")
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--out", default="runs/quality-paper")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args()
    sample, out = require_sample(), Path(args.out)
    split_file = write_leave_out_split(sample, out, args.seed)
    cli = [sys.executable, "-m", "brats_unet"]
    sets = [f"data.split_file={split_file}", f"train.max_minutes={args.minutes}", "train.epochs=1000",
            "train.steps_per_epoch=100", *args.set]
    run = out / "run"
    subprocess.run(cli + ["train", "--data", str(sample), "--out", str(run), "--config", args.config, "--quiet",
                          *[a for s in sets for a in ("--set", s)]], check=True)
    subprocess.run(cli + ["evaluate", str(run), "--split", "test", "--checkpoint", "last", "--quiet"], check=True)


if __name__ == "__main__":
    main()
