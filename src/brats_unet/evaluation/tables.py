"""Tables of per-case scores: markdown summaries and long-format summary rows."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..metrics.regions import summarise

SCORE_COLUMNS = ["case", "region", "dice", "iou", "hd95", "sensitivity", "specificity", "precision", "mcc",
                 "vol_pred_ml", "vol_ref_ml"]
SUMMARY_METRICS = ("dice", "hd95", "sensitivity", "specificity")
# Lesion-wise columns as each evaluator names them (2023 code: get_lesion_wise_results; 2025: parse_seg_results).
LESION_COLUMNS = ("Num_TP", "Num_FP", "Num_FN", "Legacy_Dice", "Legacy_HD95", "Lesion_Wise_Score_Dice",
                  "Lesion_Wise_Score_HD95",
                  "all_instance_tp", "all_instance_fp", "all_instance_fn", "all_instance_prec", "all_instance_rec",
                  "all_instance_f1", "global_dsc", "global_hd95", "lesionwise_dsc_mean", "lesionwise_dsc_std",
                  "lesionwise_hd95_mean", "lesionwise_hd95_std")
LESION_SUMMARY = ("Lesion_Wise_Score_Dice", "Lesion_Wise_Score_HD95", "lesionwise_dsc_mean", "lesionwise_hd95_mean",
                  "all_instance_f1")


def score_columns(rows: list[dict]) -> list[str]:
    """Per-case CSV columns: the whole-region ones, then the lesion-wise ones the rows carry."""
    return SCORE_COLUMNS + [k for k in LESION_COLUMNS if rows and k in rows[0]]


def summary_metrics(rows: list[dict]) -> tuple[str, ...]:
    """The summary's columns: the whole-region ones, then the lesion-wise ones the rows carry."""
    return SUMMARY_METRICS + tuple(m for m in LESION_SUMMARY if rows and m in rows[0])


def _fmt(s: dict) -> str:
    if not s["n"]:
        return "n/a"
    sd = "" if math.isnan(s["sd"]) else f" ± {s['sd']:.3f}"
    return f"{s['mean']:.3f}{sd} ({s['median']:.3f})"


def summary_table(rows: list[dict], metrics: Sequence[str] = SUMMARY_METRICS) -> str:
    """Markdown table: region x metric, mean +- sd (median) over cases."""
    regions = list(dict.fromkeys(r["region"] for r in rows))
    lines = ["| region | n | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for region in regions:
        sub = [r for r in rows if r["region"] == region]
        cells = [_fmt(summarise(r[m] for r in sub)) for m in metrics]
        lines.append(f"| {region} | {len(sub)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def region_summary(rows: list[dict], metrics: Sequence[str] = SUMMARY_METRICS) -> list[dict]:
    """One row per region x metric with mean, sd, median and n."""
    out = []
    for region in dict.fromkeys(r["region"] for r in rows):
        for m in metrics:
            out.append({"region": region, "metric": m, **summarise(r[m] for r in rows if r["region"] == region)})
    return out
