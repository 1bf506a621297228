"""Which engine runs the network at prediction: PyTorch, or ONNX Runtime on CPUs where it is faster.

Measured on one real case (``benchmarks/bench_onnx.py``, RESULTS.md): on a CPU with native bf16 (Zen 4)
PyTorch in bf16 + channels_last is the fastest path (ONNX Runtime fp32 0.65x of it); on a CPU without it
(Zen 3, AVX2 — most laptops) predict runs PyTorch in fp32 and ONNX Runtime's fp32 graph is about 1.8x
faster. ``eval.engine: auto`` therefore uses ONNX Runtime when the network would run in fp32 on the CPU
and the run holds an export of the very checkpoint being used (``brats-unet export RUN --format onnx``
writes ``RUN/model.onnx`` with a card naming the checkpoint's SHA-256); anything else runs PyTorch.
Nothing is exported at prediction: exporting takes longer than predicting a case.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..atomic_files import sha256_file
from ..errors import ConfigError, DataError

ONNX_NAME = "model.onnx"  # where `brats-unet export RUN --format onnx` writes by default


class OrtModel(torch.nn.Module):
    """An exported ONNX graph behind the call the inferer makes: (B, C, *spatial) float32 -> logits (B, K, ...).

    It runs on the CPU in fp32 whatever the input's device or memory format; no autograd.
    """

    def __init__(self, path: Path, threads: Optional[int] = None):
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()  # as torch would: OMP_NUM_THREADS
        options.inter_op_num_threads = 1
        # the arena keeps every batch's buffers: 1.49 against 0.95-1.02 GB peak for the recommended recipe's
        # predict, at the same speed (18.3-19.1 s both ways, RESULTS.md)
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(self.session.run(None, {self.input_name: array})[0])


def open_export(path: Path, requested: str) -> Optional[OrtModel]:
    """An ONNX Runtime session on ``path``; a damaged file (truncated, not ONNX) is a DataError when
    ``eval.engine=onnxruntime`` asked for it, and None (PyTorch runs instead, with a warning) under ``auto``."""
    try:
        return OrtModel(path)
    except Exception as exc:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...) for a damaged file
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        why = f"{path}: cannot be loaded by ONNX Runtime ({exc.__class__.__name__}: {first})"
        if requested == "onnxruntime":
            raise DataError(f"{why}; export it again: brats-unet export {path.parent} --format onnx") from None
        print(f"warning: {why}; predicting with PyTorch instead (export again to use it)", file=sys.stderr)
        return None


def _matching_export(run_dir: Path, checkpoint: Path) -> tuple[Optional[Path], str]:
    """(``run_dir/model.onnx`` when its card names ``checkpoint``'s SHA-256, else None; why not)."""
    path = run_dir / ONNX_NAME
    card_path = Path(f"{path}.json")
    if not path.is_file() or not card_path.is_file():
        return None, f"{path} does not exist; write it with: brats-unet export {run_dir} --format onnx"
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError):
        return None, f"{card_path} cannot be read; export again: brats-unet export {run_dir} --format onnx"
    if card.get("checkpoint_sha256") != sha256_file(checkpoint):
        return None, (f"{path} was exported from another checkpoint than {checkpoint.name} (retrained since, or "
                      f"exported from another); export again: brats-unet export {run_dir} --format onnx "
                      f"--checkpoint {checkpoint.stem}")
    return path, ""


def _onnxruntime_missing() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return True
    return False


def choose_engine(requested: str, run_dir: Path, checkpoint: Path, device: torch.device,
                  precision: str) -> tuple[Optional[Path], str]:
    """(the ONNX file to run with ONNX Runtime, or None for PyTorch, as ``eval.engine`` asks; one line for the
    user saying which engine runs and, on a fp32 CPU, how to get the faster one).

    Raises:
        ConfigError: ``onnxruntime`` asked for on a GPU, or without the package installed.
        DataError: ``onnxruntime`` asked for and the run holds no export of ``checkpoint``.
    """
    pytorch = f"engine: PyTorch, {precision} on {device.type}"
    if requested == "onnxruntime":
        if device.type != "cpu":
            raise ConfigError(f"eval.engine=onnxruntime runs on the CPU, not {device.type}; add --device cpu "
                              "or use eval.engine=auto")
        if _onnxruntime_missing():
            raise ConfigError("eval.engine=onnxruntime needs the onnx extra: pip install 'brats-unet[onnx]'")
        path, why = _matching_export(run_dir, checkpoint)
        if path is None:
            raise DataError(f"eval.engine=onnxruntime: {why}")
        return path, f"engine: ONNX Runtime on {path}"
    # auto: only where it was measured faster (fp32 on the CPU), and only an export of this checkpoint
    if requested == "torch" or device.type != "cpu" or precision != "fp32":
        return None, pytorch
    if _onnxruntime_missing():
        path, why = None, f"pip install 'brats-unet[onnx]', then brats-unet export {run_dir} --format onnx"
    else:
        path, why = _matching_export(run_dir, checkpoint)
    if path is not None:
        return path, f"engine: ONNX Runtime on {path}"
    return None, f"{pytorch} (no native bf16 here; ONNX Runtime ran predict 1.3-1.8x faster on such a CPU: {why})"
