"""``brats-unet report RUN --html``: one self-contained HTML file to browse a run's results.

Curves, the paper's Table 1, BraTS region scores, a per-case table sortable by any column, and a slice
viewer per evaluated case (slider over the axial slices around the tumour; FLAIR with the reference, the
prediction and an error map as overlays to switch on and off). Everything is inline (PNG as base64, CSS,
JavaScript): the file opens without a server or a network and can be mailed as it is.
"""

from __future__ import annotations

import base64
import html
import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..atomic_files import atomic_write_text, read_csv
from ..brats import CLASS_COLOURS, REGION_NAMES
from ..data.discovery import discover_cases
from ..data.preprocess import normalise
from ..data.volumes import read_array, read_seg
from ..errors import BratsError
from ..infer.predict import load_run, segment
from ..infer.uncertainty import uncertainty_maps
from ..plots import ERROR_CODE_COLOURS, error_map, grey, margin_bars, overlay, training_curves
from ..runs.folder import data_root_of, read_metrics
from .html_assets import PAGE, VIEWER
from .margins import margins_markdown
from .tables import region_summary


def png(array: np.ndarray) -> str:
    """Base64 PNG of an (H, W) uint8 or (H, W, 4) RGBA uint8 array."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _layer(labels: np.ndarray, colours: dict) -> str:
    """An overlay as a base64 RGBA PNG: colours where labelled, transparent elsewhere."""
    return png((overlay(labels, colours) * 255).astype(np.uint8))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], sortable: bool = False) -> str:
    """An HTML table; numbers shown with 3 decimals and sorted by value when ``sortable``."""
    cls = ' class="sortable"' if sortable else ""
    head = "".join(f"<th{cls}>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"<td>{html.escape(str(value))}</td>"
    shown = "n/a" if np.isnan(number) else f"{number:.3f}" if not float(number).is_integer() else f"{number:.0f}"
    return f'<td data-v="{number}">{shown}</td>'


def page(title: str, body: str, cases: list[dict]) -> str:
    """The whole document."""
    return PAGE.format(title=html.escape(title), body=body, cases_json=json.dumps(cases))


def figure_img(png_bytes: bytes, alt: str) -> str:
    data = base64.b64encode(png_bytes).decode()
    return f'<img class="figure" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _heat(unc: np.ndarray) -> str:
    """An uncertainty slice (uint8 0..100) as a base64 RGBA PNG: magenta, opaque where most uncertain."""
    rgba = np.zeros(unc.shape + (4,), np.uint8)
    rgba[..., 0], rgba[..., 2] = 255, 255
    rgba[..., 3] = (np.asarray(unc, np.float32) * 2.55).astype(np.uint8)
    return png(rgba)


def _viewer_data(flair: np.ndarray, ref: np.ndarray, pred: np.ndarray, unc: np.ndarray,
                 margin: int = 2) -> tuple[dict, tuple]:
    """Per-slice PNG layers over the brain's bounding box and the slices around the tumour (ref or pred),
    and the (height, width) they are shown at."""
    brain = flair != 0
    xs, ys = np.nonzero(brain.any(axis=2).any(axis=1))[0], np.nonzero(brain.any(axis=2).any(axis=0))[0]
    tumour = np.nonzero(((ref > 0) | (pred > 0)).any(axis=(0, 1)))[0]
    mid = flair.shape[2] // 2
    z0, z1 = (tumour[0], tumour[-1]) if len(tumour) else (mid - 10, mid + 10)
    zs = list(range(max(0, z0 - margin), min(flair.shape[2], z1 + margin + 1)))
    box = (slice(xs[0], xs[-1] + 1), slice(ys[0], ys[-1] + 1)) if len(xs) else (slice(None), slice(None))
    image = (grey(flair, flair[brain]) * 255).astype(np.uint8)
    image[~brain] = 0  # background black, as viewers show it
    show = lambda a, z: np.ascontiguousarray(np.rot90(a[box + (z,)]))  # noqa: E731  (radiological view)
    areas = [int((ref[..., z] > 0).sum()) for z in zs]
    data = {"z": zs, "start": int(np.argmax(areas)) if any(areas) else len(zs) // 2,
            "flair": [png(show(image, z)) for z in zs],
            "ref": [_layer(show(ref, z), CLASS_COLOURS) for z in zs],
            "pred": [_layer(show(pred, z), CLASS_COLOURS) for z in zs],
            "err": [_layer(error_map(show(pred, z), show(ref, z)), ERROR_CODE_COLOURS) for z in zs],
            "unc": [_heat(show(unc, z)) for z in zs]}
    return data, show(image, zs[0]).shape


def _per_case(rows: list[dict]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        out.setdefault(r["case"], {})[f"{r['region']} Dice"] = float(r["dice"])
        out[r["case"]][f"{r['region']} HD95"] = float(r["hd95"])
    return out


def study_html(title: str, intro: str, results: tuple[list[str], list[list]], comparison: tuple[list[str], list[list]],
               figures: dict[str, Path]) -> str:
    """A study's report as one self-contained page: sortable result tables and the embedded figures (no paired
    table when ``comparison`` has no rows: a one-variant study)."""
    heads, rows = comparison
    paired = ["<h2>Paired comparison with the baseline</h2>", table(heads, rows, sortable=True)] if rows else []
    body = "\n".join([f"<p class='note'>{html.escape(intro)}</p>",
                      "<h2>Results (test cases; click a column to sort)</h2>", table(*results, sortable=True),
                      *paired,
                      *[f"<h2>{html.escape(name)}</h2>" + figure_img(path.read_bytes(), name)
                        for name, path in figures.items()]])
    return page(title, body, [])


def write_html_report(run_dir: str | Path, data_root: Optional[str | Path] = None, checkpoint: str = "best",
                      device: str = "auto", max_cases: int = 20) -> Path:
    """Write ``RUN/report.html`` from the run's metrics and its ``evaluate`` tables (run evaluate first)."""
    run_dir = Path(run_dir)
    if not (run_dir / "eval" / "per_case.csv").exists():
        raise BratsError(f"{run_dir}/eval/per_case.csv not found: run 'brats-unet evaluate {run_dir}' first")
    rows = read_csv(run_dir / "eval" / "per_case.csv")
    scores = _per_case(rows)
    columns = [f"{r} {m}" for m in ("Dice", "HD95") for r in REGION_NAMES]
    run = load_run(run_dir, checkpoint, device)
    root = data_root_of(run_dir, data_root)
    cases = {c.case_id: c for c in discover_cases(root) if c.case_id in scores}
    viewers, data = [], []
    for index, cid in enumerate(sorted(cases)[:max_cases]):
        case = cases[cid]
        pred, probs = segment(run, case, probabilities=True)
        assert probs is not None  # asked for above
        ref = read_seg(case)
        flair = normalise(read_array(case.images["flair"]).astype(np.float32), "zscore")
        unc = uncertainty_maps(probs, run.cfg.loss.mode)["WT"]
        d, (h, w) = _viewer_data(flair, ref if ref is not None else np.zeros_like(pred), pred, unc)
        data.append(d)
        s = scores[cid]
        viewers.append(VIEWER.format(index=index, case=html.escape(cid), wt=f"{s['WT Dice']:.3f}",
                                     tc=f"{s['TC Dice']:.3f}", et=f"{s['ET Dice']:.3f}", w=w, h=h,
                                     last=len(d["z"]) - 1, start=d["start"]))
    body = "\n".join([
        f"<p class='note'>{html.escape(str(run_dir))} · checkpoint {checkpoint} · data {html.escape(str(root))}</p>",
        "<h2>Training curves</h2>", figure_img(_curves_png(run_dir), "training curves"),
        "<h2>Table 1 (the paper's metrics)</h2>",
        table(["split", "cases", "loss", "accuracy", "mean IoU", "Dice (4 classes)"],
              [[r["split"], r["cases"], r["loss"], r["accuracy"], r["mean_iou"], r["dice"]]
               for r in read_csv(run_dir / "eval" / "table1.csv")]),
        "<h2>BraTS region scores (mean ± sd over cases)</h2>",
        table(["region", "metric", "mean", "sd", "median", "n"],
              [[r["region"], r["metric"], r["mean"], r["sd"], r["median"], r["n"]] for r in region_summary(rows)]),
        "<h2>Per case (click a column to sort)</h2>",
        table(["case", *columns], [[cid, *[scores[cid][c] for c in columns]] for cid in sorted(scores)], True),
        *_margins_section(run_dir),
        "<h2>Slices</h2><p class='note'>FLAIR; switch the overlays; the slider moves through the slices "
        "around the tumour.</p>", *viewers])
    out = run_dir / "report.html"
    atomic_write_text(out, page(f"brats-unet run {run_dir.name}", body, data))
    return out


def _margins_section(run_dir: Path) -> list[str]:
    """The margin table and figure of ``eval/margins.csv`` (written by evaluate), or nothing for older runs."""
    path = run_dir / "eval" / "margins.csv"
    if not path.exists():
        return []
    rows = [{k: (v if k in ("case", "region") else float(v)) for k, v in r.items()} for r in read_csv(path)]
    with tempfile.TemporaryDirectory() as tmp:
        figure = margin_bars(rows, Path(tmp) / "margins.png").read_bytes()
    return ["<h2>Where the errors are: distance from the reference boundary</h2>",
            "<p class='note'>Share of each region's erroneous voxels by distance from the reference tumour boundary "
            "(pooled over cases), how many of those within 2 mm the uncertainty map flags, and its AUROC for "
            "error.</p>", _markdown_table(margins_markdown(rows)), figure_img(figure, "errors by distance")]


def _markdown_table(text: str) -> str:
    """A pipe table of markdown as an HTML table."""
    lines = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]
    return table(lines[0], [r for r in lines[2:]])


def _curves_png(run_dir: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return training_curves(read_metrics(run_dir), Path(tmp) / "curves.png").read_bytes()
