"""Assertions shared by tests that look at what the package draws."""

from __future__ import annotations

from pathlib import Path


def assert_drawn(png: Path, min_width: int = 400) -> None:
    """A figure file decodes as an image, is wider than ``min_width`` pixels, and is not one flat colour."""
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(str(png))
    assert pixels.ndim == 3 and pixels.shape[1] >= min_width, (png, pixels.shape)
    assert float(np.std(pixels[..., :3])) > 0.02, f"{png} is blank"
