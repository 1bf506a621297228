"""Matplotlib helpers and the case study's figures (PNG, Agg backend: no display needed).

``pyplot()`` and ``save_figure()`` are what every figure of the package (run curves, study reports) uses.

Figure 2: loss, accuracy, mean IoU and Dice per epoch, training vs validation.
Figure 3: one slice: FLAIR, ground truth, each predicted class, the composite, and an error map that
marks false positives and false negatives (and tumour voxels given the wrong class) at the margins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .atomic_files import atomic_write
from .brats import CLASS_COLOURS, CLASS_NAMES

ERROR_COLOURS = {"false positive": (1.0, 0.2, 0.2), "false negative": (0.2, 0.5, 1.0), "wrong class": (1.0, 0.85, 0.0)}
ERROR_CODE_COLOURS = dict(zip(range(1, 4), ERROR_COLOURS.values()))  # error_map codes -> colours


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (imported on first use: matplotlib is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a figure as PNG atomically and close it."""
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    pyplot().close(fig)
    return path


def training_curves(history: list[dict], path: str | Path) -> Path:
    """Training curves (the paper's Figure 2) from metrics.csv rows."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    epochs = [r["epoch"] for r in history]
    for ax, key, title in zip(axes, ("loss", "accuracy", "mean_iou", "dice"),
                              ("Loss", "Accuracy", "Mean IoU (4 classes)", "Dice (4 classes, paper)")):
        ax.plot(epochs, [r[f"train_{key}"] for r in history], "o-", label="train")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "s-", label="validation")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend()
    return save_figure(fig, path)


def grey(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``image`` scaled to [0, 1] between the 1st and 99th percentiles of ``window`` (the values to show)."""
    lo, hi = np.percentile(window, [1, 99]) if window.size and window.any() else (0.0, 1.0)
    return np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1)


def overlay(labels: np.ndarray, colours: dict) -> np.ndarray:
    """RGBA image with ``colours[k]`` where ``labels == k`` and transparent elsewhere."""
    rgba = np.zeros(labels.shape + (4,))
    for k, colour in colours.items():
        rgba[labels == k] = (*colour, 1.0)
    return rgba


def error_map(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """0 correct, 1 false positive (tumour predicted on background), 2 false negative, 3 wrong class."""
    out = np.zeros(ref.shape, np.uint8)
    out[(pred > 0) & (ref == 0)] = 1
    out[(pred == 0) & (ref > 0)] = 2
    out[(pred > 0) & (ref > 0) & (pred != ref)] = 3
    return out


def slice_comparison(flair: np.ndarray, ref: np.ndarray, pred: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Qualitative result for one axial slice (2D arrays, internal label codes)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 7, figsize=(21, 3.4))
    show = lambda ax, t: (ax.imshow(np.rot90(flair), cmap="gray"), ax.set_title(t), ax.axis("off"))  # noqa: E731
    show(axes[0], "FLAIR")
    show(axes[1], "ground truth")
    axes[1].imshow(np.rot90(overlay(ref, CLASS_COLOURS)), alpha=0.6)
    for ax, k in zip(axes[2:5], CLASS_NAMES):
        show(ax, f"predicted {CLASS_NAMES[k]}")
        ax.imshow(np.rot90(overlay(pred == k, {True: CLASS_COLOURS[k]})), alpha=0.7)
    show(axes[5], "predicted composite")
    axes[5].imshow(np.rot90(overlay(pred, CLASS_COLOURS)), alpha=0.6)
    show(axes[6], "errors")
    errors = error_map(pred, ref)
    axes[6].imshow(np.rot90(overlay(errors, ERROR_CODE_COLOURS)), alpha=0.85)
    axes[6].contour(np.rot90(ref > 0), levels=[0.5], colors="white", linewidths=0.6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ERROR_COLOURS.values()]
    axes[6].legend(handles, list(ERROR_COLOURS), loc="lower right", fontsize=6, framealpha=0.6)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def margin_bars(rows: list[dict], path: str | Path) -> Path:
    """Stacked bars per region: the share of false positives and false negatives at each distance from the
    reference boundary (rows of ``eval/margins.csv``: counts per case, region and bin, pooled here)."""
    from .brats import REGION_NAMES

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [k[3:] for k in rows[0] if k.startswith("fp ")]  # the distance bins, in the order of the columns
    for i, region in enumerate(REGION_NAMES):
        mine = [r for r in rows if r["region"] == region]
        total = sum(float(r["fp"]) + float(r["fn"]) for r in mine) or 1.0
        for j, kind in enumerate(("fp", "fn")):
            bottom = 0.0
            for k, name in enumerate(names):
                share = sum(float(r[f"{kind} {name}"]) for r in mine) / total
                ax.bar(i * 3 + j, share, bottom=bottom, color=plt.cm.viridis(k / (len(names) - 1)),
                       label=name if i == 0 and j == 0 else None, edgecolor="white")
                bottom += share
    ax.set_xticks([i * 3 + j for i in range(len(REGION_NAMES)) for j in (0, 1)])
    ax.set_xticklabels([f"{r}\n{k}" for r in REGION_NAMES for k in ("FP", "FN")])
    ax.set_ylabel("share of the region's errors")
    ax.set_title("errors by distance from the reference boundary")
    ax.legend(title="distance", fontsize=8)
    return save_figure(fig, path)
