"""Is ONNX Runtime faster than our PyTorch path for a case's forward pass on this CPU? (issue 14)

The paper's network (random weights), exported with ``brats-unet export --format onnx`` code, run over the
145 slices of one case (batches of 16, 2 x 128 x 128) by onnxruntime's CPU provider (fp32, all graph
optimisations, intra-op threads = torch's) and by PyTorch as `predict` runs it (bf16 autocast +
channels_last) and in plain fp32; best of 3 after a warm-up, in one run.

Run (nothing else running): .venv/bin/python benchmarks/bench_onnx.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from bench_predict import RECIPES, make_run
from brats_unet.device import autocast
from brats_unet.infer.export import export_run
from brats_unet.infer.predict import load_run
from common import best_of

SLICES, BATCH = 145, 16


def main() -> None:
    import onnxruntime as ort

    x = torch.randn(SLICES, 2, 128, 128)
    with tempfile.TemporaryDirectory() as tmp:
        run = load_run(make_run(Path(tmp) / "paper", RECIPES["paper"]))
        path = export_run(run, Path(tmp) / "model.onnx", "onnx")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        net = run.model.eval()

        def onnx_pass():
            return np.concatenate([session.run(None, {name: x[i : i + BATCH].numpy()})[0]
                                   for i in range(0, SLICES, BATCH)])

        def torch_pass(precision: str, channels_last: bool):
            mf = torch.channels_last if channels_last else torch.contiguous_format
            model = net.to(memory_format=mf)
            with torch.inference_mode(), autocast(torch.device("cpu"), precision):
                return torch.cat([model(x[i : i + BATCH].contiguous(memory_format=mf)).float()
                                  for i in range(0, SLICES, BATCH)])

        ref = torch_pass("fp32", False).numpy()
        diff = float(np.abs(onnx_pass() - ref).max())
        t = {"onnxruntime fp32": best_of(onnx_pass),
             "torch bf16 + channels_last (predict)": best_of(lambda: torch_pass("bf16", True)),
             "torch fp32": best_of(lambda: torch_pass("fp32", False))}
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {torch.get_num_threads()} threads; "
          f"{SLICES} slices, max |onnx - torch fp32| = {diff:.2e}\n")
    base = t["torch bf16 + channels_last (predict)"]
    print("| engine | seconds | slices/s | vs predict's path |\n|---|---|---|---|")
    for k, v in t.items():
        print(f"| {k} | {v:.2f} | {SLICES / v:.1f} | {base / v:.2f}x |")


if __name__ == "__main__":
    main()
