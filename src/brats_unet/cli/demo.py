"""``brats-unet demo``: a few minutes of the case study's recipe, end to end.

Data: ``--data`` if given, else the real sample at ``../shared/data/brats2018-sample`` (beside the
repository or the current folder), else freshly synthesised phantoms. Then train the paper's U-Net for
``--minutes``, evaluate (Table 1 + BraTS scores on the test split), predict one held-out case to
NIfTI, and draw Figures 2 and 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..config import load_config
from ..data.discovery import Source, discover_cases
from ..data.synth import write_synthetic
from ..data.volumes import read_array
from ..evaluation.evaluate import evaluate
from ..evaluation.qualitative import make_slice_comparison
from ..infer.predict import load_run, predict_case
from ..runs.folder import read_split
from ..train.loop import train

SAMPLE = Path("shared") / "data" / "brats2018-sample"
DEMO_SETTINGS = ["train.epochs=1000", "train.steps_per_epoch=25", "train.val_max_cases=2", "data.oversample=0.5"]


def find_data(data: Optional[str | Path], out: Path) -> tuple[Path, str]:
    """The dataset to use and a word on where it came from."""
    if data:
        return Path(data), "given with --data"
    repo = Path(__file__).resolve().parents[3]
    for root in (Path.cwd().parent, repo.parent):
        if (root / SAMPLE).is_dir():
            return root / SAMPLE, "the real BraTS 2018 sample"
    synth = out / "synthetic-data"
    if not synth.is_dir():
        write_synthetic(synth, cases=8, seed=0)
    return synth, "synthetic phantoms (no real data found; results say nothing about real MRI)"


def demo(data: Optional[str | Path] = None, minutes: float = 3.0, out: str | Path = "demo-output",
         device: str = "auto") -> dict:
    """Run the demo into ``out``; print and return where everything is."""
    out = Path(out)
    root, origin = find_data(data, out)
    print(f"data: {root} ({origin})")
    run_dir = out / "run"
    cfg = load_config(overrides=DEMO_SETTINGS + [f"train.max_minutes={minutes}", f"train.device={device}"])
    resume = (run_dir / "last.pt").exists()
    train(cfg, root, run_dir, resume=resume)
    evaluate(run_dir, "test", data_root=root, device=device)
    split = read_split(run_dir)
    case = next(c for c in discover_cases(root) if c.case_id == split["test"][0])
    nifti, _ = predict_case(load_run(run_dir, device=device), case, out / "predictions")
    pred = case.scheme.to_internal(read_array(Source(nifti)))  # figure 3 reuses the prediction
    fig3 = make_slice_comparison(run_dir, case.case_id, data_root=root, pred=pred)
    where = {"run": run_dir, "table1": run_dir / "eval" / "table1.md", "brats": run_dir / "eval" / "brats.md",
             "training_curves": run_dir / "figures" / "fig2_curves.png", "slice_comparison": fig3, "prediction": nifti}
    print((run_dir / "eval" / "table1.md").read_text())
    print((run_dir / "eval" / "brats.md").read_text())
    print("\n".join(f"{k:>10}: {v}" for k, v in where.items()))
    print(f"Open the prediction over {case.images['flair'].path} in ITK-SNAP or 3D Slicer.")
    return where
