"""``RUN/eval/margins.csv`` and ``margins.md``: where a run's errors lie relative to the reference tumour boundary,
and how well its uncertainty maps point at them (``metrics/margins.py`` defines every column).

Scored on the masks ``predict`` would deliver (post-processed when evaluate chose it) against the references, with
the uncertainty ``predict --uncertainty`` would write for the same run and flips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic_files import atomic_write_text, write_csv
from ..brats import REGION_NAMES, to_regions
from ..data.discovery import Case
from ..data.volumes import background_value, read_array, spacing
from ..metrics.margins import BINS, FLAG, MARGIN_MM, margin_row


def margin_rows(cases: list[Case], labels: dict[str, np.ndarray], refs: dict[str, np.ndarray],
                maps: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """One row per case and region (internal label maps; maps: {case: {region: uint8 uncertainty}})."""
    rows = []
    for case in cases:
        image = read_array(case.reference_source)
        brain = image != background_value(image)
        mm = spacing(case.reference_source)
        pred_r, ref_r = to_regions(labels[case.case_id]), to_regions(refs[case.case_id])
        for i, region in enumerate(REGION_NAMES):
            row = margin_row(ref_r[i], pred_r[i], maps[case.case_id][region], brain, mm)
            rows.append({"case": case.case_id, "region": region, **row})
    return rows


def _pooled(rows: list[dict], region: str) -> dict[str, float]:
    mine = [r for r in rows if r["region"] == region]
    fp, fn = sum(r["fp"] for r in mine), sum(r["fn"] for r in mine)
    errors = fp + fn
    out = {name: (sum(r[f"fp {name}"] + r[f"fn {name}"] for r in mine) / errors if errors else np.nan)
           for _, _, name in BINS}
    weights = [r["errors"] for r in mine if not np.isnan(r["share_within_2mm"])]
    out["within"] = float(np.average([r["share_within_2mm"] for r in mine if not np.isnan(r["share_within_2mm"])],
                                     weights=weights)) if sum(weights) else np.nan
    flagged = [r["flagged_within_2mm"] for r in mine if not np.isnan(r["flagged_within_2mm"])]
    aurocs = [r["auroc"] for r in mine if not np.isnan(r["auroc"])]
    out["flagged"] = float(np.mean(flagged)) if flagged else np.nan
    out["auroc"] = float(np.mean(aurocs)) if aurocs else np.nan
    out["fp_share"] = fp / errors if errors else np.nan
    return out


def margins_markdown(rows: list[dict]) -> str:
    """The errors of all cases pooled per region: share by distance bin, within 2 mm, flagged, AUROC."""
    head = ("| region | errors that are FP | " + " | ".join(name for _, _, name in BINS) +
            f" | within {MARGIN_MM:g} mm | of those flagged (unc >= {FLAG}) | uncertainty AUROC for error |")
    lines = [head, "|---" * (6 + len(BINS) - 1) + "|"]
    for region in REGION_NAMES:
        p = _pooled(rows, region)
        cells = [f"{100 * p['fp_share']:.0f} %"] + [f"{100 * p[name]:.0f} %" for _, _, name in BINS] + \
            [f"{100 * p['within']:.0f} %", f"{100 * p['flagged']:.0f} %", f"{p['auroc']:.3f}"]
        lines.append(f"| {region} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_margins(out: Path, rows: list[dict], split: str) -> None:
    """``margins.csv`` (per case and region) and ``margins.md`` (pooled) in ``out``."""
    write_csv(rows, out / "margins.csv", list(rows[0]) if rows else None)
    atomic_write_text(out / "margins.md", f"Errors by distance from the reference boundary, split '{split}' "
                      f"({len({r['case'] for r in rows})} cases; shares of all erroneous voxels of the region, "
                      "pooled over cases; AUROC: mean over cases)\n\n" + margins_markdown(rows) + "\n")
