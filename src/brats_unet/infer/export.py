"""``brats-unet export``: a trained network as ONNX or TorchScript, with a JSON card of what it expects.

The exported graph maps (B, C, H, W) float32 (3D: (B, C, D, H, W)) preprocessed images to logits; every
spatial size must be a multiple of ``2**model.depth`` and the batch and sizes are dynamic. What the
input must be (modalities, normalisation, slice range, resizing) and how to decode the output (softmax
classes or sigmoid regions, label codes) is written beside it as ``<file>.json``. ONNX uses PyTorch's
``torch.export``-based exporter; the result is checked against PyTorch with onnxruntime in the tests.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Literal, Optional

import torch

from ..atomic_files import atomic_path, sha256_file, write_json
from ..brats import BRATS2020, REGION_NAMES
from ..config import to_dict
from ..errors import ConfigError, DataError
from ..runs.folder import refuse_run_file
from .backend import OrtModel
from .predict import LoadedRun

Format = Literal["onnx", "torchscript"]
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


def _example(run: LoadedRun) -> torch.Tensor:
    cfg, step = run.cfg, run.cfg.model.multiple
    if cfg.model.spatial_dims == 3:
        return torch.randn(1, cfg.in_channels, *cfg.data.patch_size)
    side = cfg.data.size if cfg.data.mode == "resize" else 2 * step
    return torch.randn(1, cfg.in_channels, side, side)


def card(run: LoadedRun, fmt: str, checkpoint: Optional[Path] = None) -> dict:
    """What the exported network expects and returns, and which checkpoint it was exported from (its SHA-256
    lets ``eval.engine`` tell an export of the checkpoint in use from a stale one)."""
    cfg = run.cfg
    regions = cfg.loss.mode == "regions"
    source = {"checkpoint": checkpoint.name, "checkpoint_sha256": sha256_file(checkpoint)} if checkpoint else {}
    return source | {
        "format": fmt, "input": "image", "output": "logits",
        "input_layout": "(B, C, D, H, W)" if cfg.model.spatial_dims == 3 else "(B, C, H, W) axial slices",
        "spatial_multiple": cfg.model.multiple, "channels": list(cfg.data.modalities),
        "preprocessing": {k: to_dict(cfg)["data"][k] for k in ("normalize", "mode", "size", "slices", "context")},
        "channel_order": "for each slice offset -context..+context, the channels in order "
                         "(brats_unet.data.neighbour_slices)",
        "decode": ("sigmoid > 0.5 per region WT, TC, ET" if regions else "argmax of softmax over classes"
                   if cfg.eval.decode == "argmax" else "softmax summed into WT (1 - background), TC (core + "
                   "enhancing), ET (enhancing), each > 0.5"),
        "outputs": list(REGION_NAMES) if regions else ["background", "core", "edema", "enhancing"],
        "label_codes_brats2020": list(BRATS2020.codes),
    }


def export_run(run: LoadedRun, out: Path, fmt: Format, checkpoint: Optional[Path] = None) -> Path:
    """Write the network of ``run`` as ``fmt`` to ``out`` (atomically) and its card to ``out.json``;
    ``checkpoint``: the file the weights came from, named in the card."""
    if run.engine != "torch":
        raise ConfigError("export needs the run's PyTorch network: load it with eval.engine=torch")
    model = run.model.to("cpu").eval()
    example = _example(run)
    with atomic_path(out) as tmp:
        if fmt == "torchscript":
            torch.jit.trace(model, example, check_trace=False).save(str(tmp))
        elif fmt == "onnx":
            _onnx(model, example, tmp, run.cfg.model.multiple)
            _check_onnx(model, example, tmp, run.cfg.model.multiple)
        else:
            raise ConfigError(f"export format {fmt!r}: choose onnx or torchscript")
    write_json(Path(str(out) + ".json"), card(run, fmt, checkpoint))
    return out


def _onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, multiple: int) -> None:
    from torch.export import Dim

    try:
        import onnxscript  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise ConfigError("export --format onnx needs the onnx extra: pip install 'brats-unet[onnx]'") from None
    spatial = {i: multiple * Dim(f"s{i}", min=1, max=4096 // multiple) for i in range(2, example.dim())}
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates its passes
        torch.onnx.export(model, (example,), str(path), dynamo=True, input_names=["image"], output_names=["logits"],
                          dynamic_shapes={"x": {0: Dim("batch", min=1, max=4096), **spatial}}, external_data=False)


def _check_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, multiple: int) -> None:
    """Refuse a graph whose logits differ from PyTorch's, at the example's size and at another batch and size
    (``predict`` may run it in place of the checkpoint, eval.engine): never a silently different mask."""
    try:
        graph = OrtModel(path)  # the engine predict would run it with
    except ImportError:
        return  # nothing to run it with here; predict's engine needs onnxruntime too
    other = torch.randn(3, *example.shape[1:2], *(s + multiple for s in example.shape[2:]))
    for x in (example, other):
        with torch.no_grad():
            want, got = model(x).numpy(), graph(x).numpy()
        gap = float(abs(got - want).max()) if got.shape == want.shape else float("inf")
        if gap > 1e-3 * max(1.0, float(abs(want).max())):
            raise DataError(f"the ONNX graph disagrees with PyTorch on input {tuple(x.shape)} (max |difference| "
                            f"{gap:.3g}); nothing was written: export --format torchscript, or report it")


def default_out(run_dir: Path, fmt: Format, out: Optional[str | Path]) -> Path:
    """``out``, else ``RUN/model.onnx`` / ``RUN/model.pt``; never one of the run's own files."""
    if out:
        refuse_run_file(out, run_dir, "the export")
        refuse_run_file(Path(f"{out}.json"), run_dir, "the export's card")
    return Path(out) if out else run_dir / f"model{SUFFIX[fmt]}"
