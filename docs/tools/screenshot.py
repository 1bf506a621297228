"""Redraw the README's picture and the docs' figures from a run that segments (``make docs-screenshot``).

A real run of the recommended recipe: ``--run RUN`` (e.g. a fold of ``studies/cv30``), else one trained here for
300 steps of 16 on the real sample (about 5 minutes on 2 CPU cores with native bf16). The run is evaluated, its
HTML report opened in headless Chromium at the test case with the most tumour, and screenshotted to
``docs/html_report.png``; its training curves and qualitative figure go to ``docs/figures/``.

    .venv/bin/python docs/tools/screenshot.py [--run RUN] [--data ../shared/data/brats2018-sample]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO.parent / "shared" / "data" / "brats2018-sample"


def brats_unet(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "brats_unet", *args], check=True)


def screenshot(report: Path, png: Path) -> None:
    """The first case's slice viewer, at the slice it opens on (the most reference tumour)."""
    from selenium import webdriver
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1000",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts)
    try:
        driver.get(report.as_uri())
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return window.viewerReady === true"))
        driver.execute_script("document.querySelector('#case-0').scrollIntoView()")
        driver.save_screenshot(str(png))
    finally:
        driver.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a trained run of the recommended recipe (default: train one here)")
    ap.add_argument("--data", default=str(SAMPLE), help="its data root")
    args = ap.parse_args()
    run = Path(args.run).resolve() if args.run else REPO / "runs" / "docs-screenshot"
    if not args.run and not (run / "last.pt").exists():
        brats_unet("train", "--data", args.data, "--out", str(run), "--config", "configs/recommended.yaml",
                   "--set", "train.epochs=3", "train.steps_per_epoch=100", "--quiet")
    brats_unet("evaluate", str(run), "--split", "test", "--checkpoint", "last", "--data", args.data, "--quiet")
    brats_unet("report", str(run), "--checkpoint", "last", "--data", args.data)  # the figures
    brats_unet("report", str(run), "--html", "--checkpoint", "last", "--data", args.data)
    screenshot(run / "report.html", REPO / "docs" / "html_report.png")
    figures = sorted((run / "figures").glob("fig3_*.png"))
    shutil.copyfile(run / "figures" / "fig2_curves.png", REPO / "docs" / "figures" / "fig2_curves.png")
    if figures:
        shutil.copyfile(figures[-1], REPO / "docs" / "figures" / "fig3_example.png")
    print(f"docs/html_report.png and docs/figures/ redrawn from {run}")


if __name__ == "__main__":
    main()
