"""Assertions shared by tests that look at what the package draws."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def assert_drawn(png: Path, min_width: int = 400) -> None:
    """A figure file decodes as an image, is wider than ``min_width`` pixels, and is not one flat colour."""
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(str(png))
    assert pixels.ndim == 3 and pixels.shape[1] >= min_width, (png, pixels.shape)
    assert float(np.std(pixels[..., :3])) > 0.02, f"{png} is blank"


def browser():
    """Headless Chromium under Selenium, or a skip naming what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_bin = shutil.which("chromedriver")
    if not chromium or not driver_bin:
        pytest.skip("no Chromium/chromedriver here (apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=webdriver.ChromeService(driver_bin))
