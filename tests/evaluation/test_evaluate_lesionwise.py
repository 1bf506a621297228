"""``evaluate`` with ``eval.lesionwise`` and ``eval.convention`` on a run trained on real cases."""

from __future__ import annotations

import csv

import pytest

from brats_unet.evaluation.evaluate import evaluate


@pytest.mark.slow
def test_evaluate_writes_lesionwise_columns(sample_run):
    evaluate(sample_run, "test", progress=False, overrides=["eval.lesionwise=GLI", "eval.convention=brats2023"])
    rows = list(csv.DictReader((sample_run / "eval" / "per_case.csv").open()))
    assert rows and {"Num_TP", "Num_FN", "Lesion_Wise_Score_Dice", "Legacy_HD95"} <= set(rows[0])
    for row in rows:
        assert row["Legacy_Dice"] == row["dice"]  # the same legacy score under the organisers' name
        if row["region"] == "WT":
            assert int(row["Num_TP"]) + int(row["Num_FN"]) >= 1  # every real case has a tumour
    assert "Lesion_Wise_Score_Dice" in (sample_run / "eval" / "brats.md").read_text()
