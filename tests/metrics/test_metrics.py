"""Metrics: hand-computed tiny cases, conventions, and MONAI as a test-only reference."""

import math

import numpy as np
import pytest

from brats_unet.metrics.confusion import confusion_matrix, counts, scores
from brats_unet.metrics.pooled import PooledMetrics, pooled_metrics
from brats_unet.metrics.regions import diagonal_mm, score_case, score_masks, summarise
from brats_unet.metrics.surface import hd95, surface_distances


def test_scores_hand_computed():
    pred = np.array([1, 1, 0, 0, 1, 0], bool)
    ref = np.array([1, 0, 1, 0, 1, 0], bool)
    tp, fp, fn, tn = counts(pred, ref)
    assert (tp, fp, fn, tn) == (2, 1, 1, 2)
    s = scores(tp, fp, fn, tn)
    assert s["dice"] == pytest.approx(4 / 6) and s["iou"] == pytest.approx(0.5)
    assert s["precision"] == pytest.approx(2 / 3) and s["sensitivity"] == pytest.approx(2 / 3)
    assert s["specificity"] == pytest.approx(2 / 3) and s["accuracy"] == pytest.approx(4 / 6)
    assert s["mcc"] == pytest.approx((2 * 2 - 1 * 1) / math.sqrt(3 * 3 * 3 * 3))


def test_hd95_hand_computed():
    a, b = np.zeros(12, bool), np.zeros(12, bool)
    a[2:4] = True  # surface voxels 2, 3
    b[2:8] = True  # surface voxels 2, 7; spacing 2 mm
    d_ab, d_ba = surface_distances(a, b, spacing=(2.0,))
    assert sorted(d_ab.tolist()) == [0.0, 2.0] and sorted(d_ba.tolist()) == [0.0, 8.0]
    assert hd95(a, b, (2.0,), "max") == pytest.approx(max(np.percentile([0, 2], 95), np.percentile([0, 8], 95)))
    assert hd95(a, b, (2.0,)) == pytest.approx(np.percentile([0, 2, 0, 8], 95))


@pytest.mark.parametrize("convention", ["brats2020", "brats2023", "brats2025"])
def test_empty_mask_conventions(convention):
    """Both empty: 1 / 0 (2020, 2023) or NaN, left out of means (2025); one empty: Dice 0 and the
    convention's penalty: the grid's diagonal (2020), 374 (2023 code), 373 (brats-evaluation)."""
    shape = (24, 30, 16)
    empty, full = np.zeros(shape, bool), np.zeros(shape, bool)
    full[1:3, 1:3, 1:3] = True
    both = score_masks(empty, empty, (1, 1, 2), convention)
    one = score_masks(full, empty, (1, 1, 2), convention)
    penalty = {"brats2020": math.sqrt(24**2 + 30**2 + 32**2), "brats2023": 374.0, "brats2025": 373.0}
    assert one["dice"] == 0 and one["hd95"] == pytest.approx(penalty[convention])
    if convention == "brats2025":
        assert math.isnan(both["dice"]) and math.isnan(both["hd95"])
        assert summarise([0.5, both["dice"]])["n"] == 1
    else:
        assert both["dice"] == 1 and both["hd95"] == 0


def test_classic_grid_penalty_is_the_2020_constant():
    assert diagonal_mm((240, 240, 155), (1, 1, 1)) == pytest.approx(373.13, abs=0.01)


def test_no_overlap_penalty_only_in_brats2025():
    """panoptica scores masks that exist but do not touch as HD95 inf (373 in the output); the others measure."""
    a, b = np.zeros((20, 8, 8), bool), np.zeros((20, 8, 8), bool)
    a[2:4, 2:4, 2:4], b[12:14, 2:4, 2:4] = True, True
    assert score_masks(a, b, (1, 1, 1), "brats2025")["hd95"] == 373.0
    assert score_masks(a, b, (1, 1, 1), "brats2020")["hd95"] == pytest.approx(10.0)
    assert score_masks(a, b, (1, 1, 1), "brats2023")["hd95"] == pytest.approx(10.0)


def test_weighted_hd95_hand_computed():
    """Two 2x2x2 cubes 10 voxels apart: every surface element of one lies 10 mm from the other's."""
    a, b = np.zeros((20, 6, 6), bool), np.zeros((20, 6, 6), bool)
    a[2:4, 2:4, 2:4], b[12:14, 2:4, 2:4] = True, True
    assert hd95(a, b, (1, 1, 1), "weighted") == pytest.approx(10.0)
    assert hd95(a, np.zeros_like(b), (1, 1, 1), "weighted") == math.inf


def test_region_scores_and_volumes():
    ref = np.zeros((10, 10, 10), np.uint8)
    ref[2:8, 2:8, 2:8] = 2
    ref[3:6, 3:6, 3:6] = 3
    pred = ref.copy()
    pred[3:6, 3:6, 3:6] = 1  # enhancing predicted as necrosis: WT, TC perfect, ET missed
    rows = score_case(pred, ref, (1.0, 1.0, 2.0))
    assert rows["WT"]["dice"] == 1 and rows["TC"]["dice"] == 1 and rows["ET"]["dice"] == 0
    assert rows["WT"]["vol_ref_ml"] == pytest.approx(216 * 2 / 1000)
    assert rows["ET"]["vol_pred_ml"] == 0 and rows["ET"]["hd95"] == pytest.approx(diagonal_mm((10, 10, 10), (1, 1, 2)))


def test_paper_metrics_hand_computed():
    ref = np.array([0, 0, 0, 1, 2, 3])
    pred = np.array([0, 0, 1, 1, 2, 2])
    m = PooledMetrics(4)
    m.update(pred[:3], ref[:3])
    m.update(pred[3:], ref[3:])
    out = m.compute()
    assert out["accuracy"] == pytest.approx(4 / 6)
    ious = [2 / 3, 1 / 2, 1 / 2, 0.0]
    dices = [4 / 5, 2 / 3, 2 / 3, 0.0]
    assert out["mean_iou"] == pytest.approx(np.mean(ious)) and out["dice"] == pytest.approx(np.mean(dices))
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(confusion_matrix(torch.tensor(pred), torch.tensor(ref), 4), m.matrix)
    assert pooled_metrics(np.diag([5, 0, 0, 0]))["mean_iou"] == 1.0  # absent classes are skipped


def _random_masks(seed, shape=(40, 36, 24)):
    rng = np.random.default_rng(seed)
    grid = np.indices(shape)
    masks = []
    for _ in range(2):
        c = rng.uniform(0.3, 0.7, 3) * shape
        r = rng.uniform(0.15, 0.3, 3) * shape
        m = (((grid - c[:, None, None, None]) / r[:, None, None, None]) ** 2).sum(0) <= 1
        masks.append(m ^ (rng.random(shape) < 0.01) & m)
    return masks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_monai(seed):
    torch = pytest.importorskip("torch")
    mm = pytest.importorskip("monai.metrics")
    pred, ref = _random_masks(seed)
    spacing = (1.0, 1.5, 3.0)
    p = torch.from_numpy(pred[None, None].astype(np.float32))
    r = torch.from_numpy(ref[None, None].astype(np.float32))
    ours = scores(*counts(pred, ref))
    assert ours["dice"] == pytest.approx(float(mm.compute_dice(p, r)), abs=1e-5)
    hd_ref = float(mm.compute_hausdorff_distance(p, r, percentile=95, spacing=spacing))
    assert hd95(pred, ref, spacing, "max") == pytest.approx(hd_ref, abs=1e-3)
    cm = mm.get_confusion_matrix(p, r)
    for name, key in [("mcc", "mcc"), ("sensitivity", "sensitivity"), ("specificity", "specificity"),
                      ("precision", "precision")]:
        ref_val = float(mm.compute_confusion_matrix_metric(name, cm)[0])
        assert ours[key] == pytest.approx(ref_val, abs=1e-5)


def test_pooled_hd95_matches_brute_force():
    pred, ref = _random_masks(5, (20, 18, 12))
    from scipy.ndimage import binary_erosion, generate_binary_structure

    st = generate_binary_structure(3, 1)
    sp, sr = [np.argwhere(m & ~binary_erosion(m, st)) * [1.0, 1.5, 3.0] for m in (pred, ref)]
    d = np.sqrt(((sp[:, None] - sr[None]) ** 2).sum(-1))
    expected = np.percentile(np.concatenate([d.min(1), d.min(0)]), 95)
    assert hd95(pred, ref, (1.0, 1.5, 3.0)) == pytest.approx(expected, abs=1e-6)
