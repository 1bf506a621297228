"""brats-unet: U-Net-family brain-tumour segmentation on BraTS multimodal MRI.

The public Python API (:mod:`brats_unet.api`) is exported here and imported on first use, so that
``import brats_unet`` (and the command line's ``--help``) does not pay for torch.
"""

from __future__ import annotations

from typing import Any

from .version import __version__

__all__ = ["__version__", "load_run", "load_runs", "predict_arrays", "score", "train", "evaluate", "load_study",
           "run_study", "LoadedRun"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'brats_unet' has no attribute {name!r}")
