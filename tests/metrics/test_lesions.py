"""Lesion-wise metrics on hand-built cases: every step of the 2023 organisers' recipe, and the panoptica
edge cases (the real-case agreement with brats-evaluation is in test_official.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brats_unet.metrics.lesions import components, lesionwise_2023, lesionwise_panoptica

ONE = (1.0, 1.0, 1.0)


def cube(mask: np.ndarray, at: tuple[int, int, int], size: int) -> None:
    x, y, z = at
    mask[x:x + size, y:y + size, z:z + size] = True


def test_components_are_26_connected():
    m = np.zeros((5, 5, 5), bool)
    m[1, 1, 1] = m[2, 2, 2] = True  # corner-touching: one lesion
    m[4, 4, 0] = True
    assert components(m)[1] == 2


def test_2023_perfect_and_missed_lesion():
    """Two 4^3 lesions (64 mm^3 > 50): one found exactly, one missed -> (1 + 0) / 2, HD95 (0 + 374) / 2."""
    ref, pred = np.zeros((40, 12, 12), bool), np.zeros((40, 12, 12), bool)
    cube(ref, (2, 4, 4), 4)
    cube(ref, (30, 4, 4), 4)
    cube(pred, (2, 4, 4), 4)
    out = lesionwise_2023(pred, ref, ONE, dilation=3, threshold=50)
    assert (out["tp"], out["fn"], out["fp"]) == (1, 1, 0)
    assert out["lesion_dice"] == pytest.approx(0.5) and out["lesion_hd95"] == pytest.approx(374 / 2)


def test_2023_false_positive_costs_a_zero_and_374():
    ref, pred = np.zeros((40, 12, 12), bool), np.zeros((40, 12, 12), bool)
    cube(ref, (2, 4, 4), 4)
    cube(pred, (2, 4, 4), 4)
    cube(pred, (30, 4, 4), 2)  # far from any lesion
    out = lesionwise_2023(pred, ref, ONE, dilation=3, threshold=50)
    assert (out["tp"], out["fn"], out["fp"]) == (1, 0, 1)
    assert out["lesion_dice"] == pytest.approx(0.5) and out["lesion_hd95"] == pytest.approx(374 / 2)


def test_2023_dilation_merges_near_lesions_and_counts_near_predictions():
    """Lesions 4 voxels apart merge under GLI's dilation 3 (not under MEN's 1); a predicted blob 2 voxels
    outside a lesion counts for it (not a false positive) and enters its Dice as a whole component."""
    ref = np.zeros((30, 12, 12), bool)
    cube(ref, (2, 4, 4), 4)
    cube(ref, (10, 4, 4), 4)  # gap of 4 voxels (6..9)
    pred = ref.copy()
    assert lesionwise_2023(pred, ref, ONE, 3, 50)["tp"] == 1  # one merged lesion
    assert lesionwise_2023(pred, ref, ONE, 1, 50)["tp"] == 2
    near = ref.copy()
    near[16, 4:8, 4:8] = True  # separate component 2 voxels beyond the second cube
    out = lesionwise_2023(near, ref, ONE, 3, 50)
    assert out["fp"] == 0 and out["tp"] == 1
    assert out["lesion_dice"] == pytest.approx(2 * 128 / (128 + 144))


def test_2023_small_lesions_are_not_scored():
    """MET's threshold 2 mm^3 scores a 3-voxel lesion that GLI's 50 ignores; a prediction on an ignored
    lesion is no false positive."""
    ref, pred = np.zeros((30, 10, 10), bool), np.zeros((30, 10, 10), bool)
    cube(ref, (2, 3, 3), 4)
    ref[20, 3, 3:6] = True  # 3 mm^3
    pred[2:6, 3:7, 3:7] = True
    gli = lesionwise_2023(pred, ref, ONE, 3, 50)
    assert (gli["tp"], gli["fn"], gli["fp"]) == (1, 0, 0) and gli["lesion_dice"] == 1.0
    met = lesionwise_2023(pred, ref, ONE, 1, 2)
    assert (met["tp"], met["fn"]) == (1, 1) and met["lesion_dice"] == pytest.approx(0.5)
    pred[20, 3, 3:6] = True
    assert lesionwise_2023(pred, ref, ONE, 3, 50)["fp"] == 0


def test_2023_both_empty_is_perfect():
    empty = np.zeros((8, 8, 8), bool)
    assert lesionwise_2023(empty, empty, ONE, 3, 50) == {"lesion_dice": 1.0, "lesion_hd95": 0.0,
                                                          "tp": 0, "fp": 0, "fn": 0}


def test_panoptica_matching_is_one_to_one_and_edge_cases():
    """One predicted blob over two lesions matches one of them (the higher Dice); the other is a FN."""
    ref, pred = np.zeros((30, 10, 10), bool), np.zeros((30, 10, 10), bool)
    cube(ref, (2, 3, 3), 4)
    cube(ref, (8, 3, 3), 2)
    pred[2:10, 3:7, 3:7] = True
    out = lesionwise_panoptica(pred, ref, ONE)
    assert (out["all_instance_tp"], out["all_instance_fp"], out["all_instance_fn"]) == (1, 0, 1)
    assert out["lesionwise_dsc_mean"] == pytest.approx(2 * 64 / (64 + 128))
    empty = np.zeros_like(ref)
    none = lesionwise_panoptica(empty, empty, ONE)
    assert math.isnan(none["lesionwise_dsc_mean"]) and math.isnan(none["all_instance_f1"])
    missed = lesionwise_panoptica(empty, ref, ONE)
    assert missed["lesionwise_dsc_mean"] == 0 and missed["lesionwise_hd95_mean"] == math.inf
