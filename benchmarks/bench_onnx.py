"""Is ONNX Runtime faster than our PyTorch path for a case's forward pass on this CPU? (issue 14)

The paper's network (random weights), exported with ``brats-unet export --format onnx`` code, run over the
145 slices of one case (batches of 16, 2 x 128 x 128) by the engine ``eval.engine=onnxruntime`` uses
(:class:`brats_unet.infer.backend.OrtModel`: CPU provider, fp32, intra-op threads = torch's) and by PyTorch
as `predict` runs it (autocast in the precision ``auto`` resolves to here: bf16 on a CPU with native bf16,
else fp32; channels_last), and in plain fp32; best of 3 after a warm-up, in one run.

Run (nothing else running): .venv/bin/python benchmarks/bench_onnx.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from brats_unet.device import autocast, resolve_precision
from brats_unet.infer.backend import OrtModel
from brats_unet.infer.export import export_run
from brats_unet.infer.predict import load_run
from common import best_of, machine, usage
from workloads import RECIPES, make_run

SLICES, BATCH = 145, 16


def main() -> None:
    import onnxruntime as ort

    x = torch.randn(SLICES, 2, 128, 128)
    cpu = torch.device("cpu")
    precision = resolve_precision("auto", cpu)
    with tempfile.TemporaryDirectory() as tmp:
        run = load_run(make_run(Path(tmp) / "paper", RECIPES["paper"]), overrides=["eval.engine=torch"])
        graph = OrtModel(export_run(run, Path(tmp) / "model.onnx", "onnx"))
        net = run.model.eval()

        def onnx_pass():
            return torch.cat([graph(x[i : i + BATCH]) for i in range(0, SLICES, BATCH)]).numpy()

        def torch_pass(precision: str, channels_last: bool):
            mf = torch.channels_last if channels_last else torch.contiguous_format
            model = net.to(memory_format=mf)
            with torch.inference_mode(), autocast(cpu, precision):
                return torch.cat([model(x[i : i + BATCH].contiguous(memory_format=mf)).float()
                                  for i in range(0, SLICES, BATCH)])

        ref = torch_pass("fp32", False).numpy()
        diff = float(np.abs(onnx_pass() - ref).max())
        path = f"torch {precision} + channels_last (predict's PyTorch path)"
        t = {"onnxruntime fp32 (eval.engine=onnxruntime)": best_of(onnx_pass),
             path: best_of(lambda: torch_pass(precision, True)),
             "torch fp32": best_of(lambda: torch_pass("fp32", False))}
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}; {machine()}; "
          f"{SLICES} slices, max |onnx - torch fp32| = {diff:.2e}\n")
    print("| engine | seconds | slices/s | vs predict's PyTorch path |\n|---|---|---|---|")
    for k, v in t.items():
        print(f"| {k} | {v:.2f} | {SLICES / v:.1f} | {t[path] / v:.2f}x |")


if __name__ == "__main__":
    usage(__doc__)
    main()
