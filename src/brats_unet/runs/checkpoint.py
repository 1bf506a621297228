"""Checkpoints: RNG state for resume, and safe loading (``weights_only=True``: no arbitrary unpickling).

Training writes them atomically together with the epoch's metrics (``Trainer._commit``).
"""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError


def rng_state() -> dict:
    """RNG states of torch, numpy and python, as tensors/plain data that weights_only can load."""
    np_state: tuple = np.random.get_state()  # type: ignore[assignment]
    return {"torch": torch.get_rng_state(), "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                                                      *np_state[2:]], "python": json.dumps(random.getstate())}


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss = json.loads(state["python"])
    random.setstate((version, tuple(internal), gauss))


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint safely; DataError naming the file if it is missing or corrupt."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise DataError(f"{path}: cannot load checkpoint: it holds Python objects beyond tensors and plain data, "
                        "which weights_only loading refuses to run (a tampered or foreign file)") from None
    except Exception as exc:  # truncated zip, wrong format, I/O
        first = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(f"{path}: cannot load checkpoint ({exc.__class__.__name__}: {first})") from None
