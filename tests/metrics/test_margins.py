"""Errors by distance from the reference boundary and the uncertainty's AUROC for error: hand-built cases, and
evaluate / report writing them for a run."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from brats_unet.metrics.margins import auroc, error_distances, margin_row

from ..checks import assert_drawn


def test_distances_of_false_positives_and_negatives_in_mm():
    ref = np.zeros((20, 1, 1), bool)
    ref[5:15] = True
    pred = np.zeros_like(ref)
    pred[8:18] = True  # FN at 5, 6, 7 (1, 2, 3 voxels deep); FP at 15, 16, 17 (1, 2, 3 voxels out)
    d_fp, d_fn = error_distances(ref, pred, (2.0, 1.0, 1.0))
    np.testing.assert_allclose(sorted(d_fp), [2.0, 4.0, 6.0])  # 2 mm voxels along x
    np.testing.assert_allclose(sorted(d_fn), [2.0, 4.0, 6.0])
    row = margin_row(ref, pred, np.zeros(ref.shape, np.uint8), np.ones_like(ref), (2.0, 1.0, 1.0))
    assert row["fp"] == 3 and row["fn"] == 3 and row["fp <=1 mm"] == 0 and row["fp 1-3 mm"] == 1
    assert row["fp 3-6 mm"] == 2 and row["fn >6 mm"] == 0
    assert row["share_within_2mm"] == pytest.approx(2 / 6) and row["flagged_within_2mm"] == 0.0


def test_auroc_counts_ties_half_and_matches_pairwise_counting():
    unc = np.array([90, 50, 50, 10, 0, 50])
    err = np.array([True, True, False, False, False, False])
    # error 90 beats all 4 correct; error 50 beats 10 and 0, ties two 50s: (4 + 2 + 0.5 * 2) / 8
    assert auroc(unc, err) == pytest.approx(7 / 8)
    rng = np.random.default_rng(1)
    u, e = rng.integers(0, 101, 300), rng.random(300) < 0.3
    pairs = [(a > b) + 0.5 * (a == b) for a in u[e] for b in u[~e]]
    assert auroc(u, e) == pytest.approx(np.mean(pairs))
    assert np.isnan(auroc(u, np.zeros(300, bool)))


def test_evaluate_writes_the_margin_table_and_report_draws_it(tiny_run, run_cli, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert run_cli("evaluate", run).code == 0
    rows = list(csv.DictReader(open(run / "eval" / "margins.csv")))
    cases = {r["case"] for r in rows}
    assert len(rows) == 3 * len(cases) and {r["region"] for r in rows} == {"WT", "TC", "ET"}
    for r in rows:
        bins = sum(float(r[f"fp {b}"]) for b in ("<=1 mm", "1-3 mm", "3-6 mm", ">6 mm"))
        assert bins == float(r["fp"])
    text = (run / "eval" / "margins.md").read_text()
    assert "within 2 mm" in text and "| WT |" in text
    assert run_cli("report", run).code == 0
    assert_drawn(run / "figures" / "margins.png")
