"""Agreement with the organisers' evaluators on the 16 real sample cases x 6 systematic perturbations.

* ``brats2025``: ``brats-evaluation`` (panoptica) with its bundled GLI config, the BraTS 2025 evaluator:
  TP/FP/FN lesions and F1 exactly, global and lesion-wise Dice to 1e-6, HD95 to 1e-3 mm.
* ``brats2023``: the 2023-2024 organisers' code is no PyPI package (github.com/rachitsaluja/
  BraTS-2023-Metrics); its HD95 is DeepMind's ``surface-distance`` robust Hausdorff, checked here against
  that package; its lesion-wise steps are checked by hand in ``test_lesions.py``.

Volumes are cut to the tumour's bounding box plus 12 voxels (all metrics are unchanged by it; it keeps the
suite fast), in BraTS 2023 codes (ET = 3) as the official configs expect.
"""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage as nd

from brats_unet.brats import BRATS2023
from brats_unet.evaluation.scoring import lesion_scores
from brats_unet.metrics.regions import score_masks
from brats_unet.metrics.surface import hd95

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.slow]  # the official evaluators on 16 cases x 6 perturbations: make test only

REGIONS = {"wt": (1, 2, 3), "tc": (1, 3), "et": (3,)}
PERTURBATIONS = ("erode", "dilate", "remove_component", "far_component", "empty_pred", "empty_ref_region")


def _cases(sample_dir) -> list[np.ndarray]:
    out = []
    for seg in sorted(sample_dir.glob("*/*_seg.nii.gz")):
        ref = np.asarray(nib.load(seg).dataobj).astype(np.uint8)
        ref[ref == 4] = 3
        idx = np.nonzero(ref)
        box = tuple(slice(max(0, int(i.min()) - 12), int(i.max()) + 13) for i in idx)
        out.append(np.ascontiguousarray(ref[box]))
    return out


def perturb(ref: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, reference) for one systematic error."""
    pred, ref = ref.copy(), ref.copy()
    if kind == "erode":
        keep = np.zeros_like(pred)
        for c in (1, 2, 3):
            keep[nd.binary_erosion(ref == c)] = c
        pred = keep
    elif kind == "dilate":
        pred[nd.binary_dilation(ref > 0, iterations=2) & (ref == 0)] = 2
    elif kind == "remove_component":
        cc, n = nd.label(ref == 3, structure=np.ones((3, 3, 3)))
        if n:
            pred[cc == np.argmax(np.bincount(cc.ravel())[1:]) + 1] = 0
    elif kind == "far_component":
        pred[:4, :4, :4] = 3  # at least 8 voxels from the tumour on every axis
    elif kind == "empty_pred":
        pred[:] = 0
    else:  # the reference has no enhancing tumour; the prediction keeps it
        ref[ref == 3] = 1
    return pred, ref


@pytest.fixture(scope="module")
def pairs(sample_dir):
    cases = _cases(sample_dir)
    assert len(cases) == 16
    return [(i, kind, *perturb(ref, kind)) for i, ref in enumerate(cases) for kind in PERTURBATIONS]


def _same(ours: float, theirs, tol: float) -> bool:
    theirs = math.nan if theirs is None else float(theirs)
    if math.isnan(theirs) or math.isinf(theirs):
        return (math.isnan(theirs) and math.isnan(ours)) or ours == theirs
    return abs(ours - theirs) <= tol


def test_brats2025_matches_brats_evaluation(pairs):
    be = pytest.importorskip("brats_evaluation", reason="brats-evaluation (dev dependency) is not installed")
    from panoptica import Panoptica_Evaluator

    evaluator = Panoptica_Evaluator.load_from_config(str(be.config_path("gli")))
    fields = {"tp": ("all_instance_tp", 0), "fp": ("all_instance_fp", 0), "fn": ("all_instance_fn", 0),
              "rq": ("all_instance_f1", 1e-9), "global_bin_dsc": ("global_dsc", 1e-6),
              "global_bin_hd95": ("global_hd95", 1e-3), "sq_dsc": ("lesionwise_dsc_mean", 1e-6),
              "sq_dsc_std": ("lesionwise_dsc_std", 1e-6), "sq_hd95": ("lesionwise_hd95_mean", 1e-3),
              "sq_hd95_std": ("lesionwise_hd95_std", 1e-3)}
    checked, bad = 0, []
    for case, kind, pred, ref in pairs:
        results = evaluator.evaluate(pred, ref, skip_groups=["netc", "snfh", "rc"])
        for group, codes in REGIONS.items():
            theirs = results[group].to_dict(True)
            if theirs.get("global_bin_hd95") == math.inf:
                theirs["global_bin_hd95"] = 373  # brats_evaluation.parse_seg_results does the same
            p, r = np.isin(pred, codes), np.isin(ref, codes)
            ours = lesion_scores(p, r, (1.0, 1.0, 1.0), "brats2025", "GLI", score_masks(p, r, (1, 1, 1), "brats2025"))
            for key, (name, tol) in fields.items():
                checked += 1
                if not _same(ours[name], theirs.get(key), tol):
                    bad.append(f"case {case} {kind} {group} {name}: ours {ours[name]}, theirs {theirs.get(key)}")
    assert not bad, "\n".join(bad[:20])
    assert checked == 16 * 6 * 3 * len(fields)


def test_weighted_hd95_matches_surface_distance(pairs, monkeypatch):
    sd = pytest.importorskip("surface_distance", reason="surface-distance (dev dependency) is not installed")
    monkeypatch.setattr(np, "Inf", np.inf, raising=False)  # the 2018 package predates numpy 2
    spacing = (1.0, 1.0, 1.0)
    bad, finite = [], 0
    for case, kind, pred, ref in pairs:
        for group, codes in REGIONS.items():
            p, r = np.isin(pred, codes), np.isin(ref, codes)
            if not (p.any() or r.any()):
                continue
            theirs = sd.compute_robust_hausdorff(sd.compute_surface_distances(r, p, spacing), 95)
            ours = hd95(p, r, spacing, "weighted")
            finite += math.isfinite(theirs)
            if not _same(ours, theirs, 1e-3):
                bad.append(f"case {case} {kind} {group}: ours {ours}, theirs {theirs}")
    assert not bad, "\n".join(bad[:20])
    assert finite > 200  # most pairs have two surfaces; the empty ones check the inf edge


def test_weighted_hd95_anisotropic_spacing(pairs, monkeypatch):
    sd = pytest.importorskip("surface_distance", reason="surface-distance (dev dependency) is not installed")
    for _, _, pred, ref in pairs[1:12:5]:
        p, r = pred > 0, ref > 0
        spacing = (0.9, 1.2, 3.0)
        theirs = sd.compute_robust_hausdorff(sd.compute_surface_distances(r, p, spacing), 95)
        assert hd95(p, r, spacing, "weighted") == pytest.approx(theirs, abs=1e-3)


def test_surfel_table_matches_surface_distance():
    """The generated surface-element table equals the package's hand-written one, for any spacing."""
    pytest.importorskip("surface_distance", reason="surface-distance (dev dependency) is not installed")
    from surface_distance import lookup_tables

    from brats_unet.metrics.surface import surfel_areas

    for spacing in [(1.0, 1.0, 1.0), (0.5, 1.5, 4.0)]:
        np.testing.assert_allclose(surfel_areas(spacing),
                                   lookup_tables.create_table_neighbour_code_to_surface_area(spacing), atol=1e-9)


def test_brats2023_scheme_matches_the_configs_codes():
    assert BRATS2023.region_codes() == {"WT": REGIONS["wt"], "TC": REGIONS["tc"], "ET": REGIONS["et"]}
