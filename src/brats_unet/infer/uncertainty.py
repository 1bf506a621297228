"""Uncertainty maps per region in the QU-BraTS form: ``<case>_unc_{whole,core,enhance}.nii.gz``, uint8 0..100
(0 = certain, 100 = most uncertain), on the input's grid, affine and header, like the mask.

The uncertainty of a voxel is the binary entropy of its region probability, ``H(p) = -p log2 p - (1-p) log2(1-p)``
scaled to 0..100: 100 where the model gives the region a probability of one half, 0 where it is sure either way.
``p`` is what ``predict`` decodes: for a single run the network's own probability (softmax summed over the
region's classes, or the region's sigmoid); with ``--tta`` the probability of the logits averaged over the flips
(``infer/whole_case.py``); for an ensemble (e.g. the 5 folds) the average of the runs' probabilities. Averaging
first makes this the predictive (total) uncertainty, which grows where the members or flips disagree as well
as where each is unsure; ``predict`` names the source it used. ``--mc-dropout N`` (``eval.mc_dropout``) averages
N Monte-Carlo dropout passes of a run trained with dropout (``models/ensemble.py``), alone or with the others.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..brats import REGION_NAMES

MAP_NAMES = {"WT": "whole", "TC": "core", "ET": "enhance"}  # the QU-BraTS file suffixes


def region_probabilities(probs: torch.Tensor, mode: str) -> torch.Tensor:
    """(3, ...) WT/TC/ET probabilities from (4, ...) class probabilities (internal codes 0 background, 1 core,
    2 edema, 3 enhancing) or, in regions mode, the (3, ...) sigmoids themselves."""
    if mode == "regions":
        return probs
    return torch.stack([1 - probs[0], probs[1] + probs[3], probs[3]])


def uncertainty_maps(probs: torch.Tensor, mode: str) -> dict[str, np.ndarray]:
    """{"WT"|"TC"|"ET": uint8 (...) 0..100} from probabilities on the original grid."""
    p = region_probabilities(probs.float(), mode).clamp(1e-7, 1 - 1e-7)
    entropy = -(p * torch.log2(p) + (1 - p) * torch.log2(1 - p))
    scaled = torch.round(entropy * 100).clamp(0, 100).to(torch.uint8).numpy()
    return {region: scaled[i] for i, region in enumerate(REGION_NAMES)}


def map_path(out_dir: Path, case_id: str, region: str) -> Path:
    """``<out>/<case>_unc_whole.nii.gz`` etc."""
    return out_dir / f"{case_id}_unc_{MAP_NAMES[region]}.nii.gz"


def source_note(tta: bool, members: int, mc_dropout: int = 0) -> str:
    """Which uncertainty ``predict`` wrote, in words."""
    over = [f"{members} runs" if members > 1 else "", f"{mc_dropout} Monte-Carlo dropout samples" if mc_dropout else "",
            "flips (TTA)" if tta else ""]
    averaged = " and ".join(x for x in over if x)
    return ("uncertainty: entropy of the region probability" + (f" averaged over {averaged}" if averaged else
            " of the single run (add --tta, --mc-dropout N or several runs for a spread)"))
