"""The HTML report in a real headless browser (Chromium driven by Selenium): it loads without a console
error, the slider changes the displayed slice, an overlay toggle changes pixels, a column sorts."""

from __future__ import annotations

import shutil

import pytest

from ..checks import browser

pytestmark = pytest.mark.slow  # trains, spawns processes or opens a browser: make test only


SUM_PIXELS = """const c = document.querySelector('#case-0 canvas');
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] * 3 + d[i + 1] * 5 + d[i + 2] * 7; return s;"""


@pytest.fixture(scope="module")
def report(sample_run, tmp_path_factory):
    from brats_unet.cli import main

    run = tmp_path_factory.mktemp("html") / "run"
    shutil.copytree(sample_run, run)
    assert main(["evaluate", str(run), "--split", "all", "--quiet"]) == 0
    assert main(["report", str(run), "--html"]) == 0
    return run / "report.html"


def test_report_is_self_contained(report):
    text = report.read_text()
    assert "http://" not in text and "https://" not in text and "<script src" not in text
    assert text.count('class="viewer"') == 5 and "Table 1" in text and "sortable" in text
    assert "distance from the reference boundary" in text and "uncertainty AUROC for error" in text
    assert text.count('value="unc"') == 5


def test_report_in_a_headless_browser(report):
    driver = browser()
    try:
        driver.get(report.as_uri())
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return window.viewerReady === true"))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        first = driver.execute_script(SUM_PIXELS)
        label = driver.execute_script("return document.querySelector('#case-0 .z').textContent")
        driver.execute_script("const s = document.querySelector('#case-0 input[type=range]'); "
                              "s.value = 0; s.dispatchEvent(new Event('input'));")
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(
            "return document.querySelector('#case-0').dataset.drawn === '0'"))
        assert driver.execute_script("return document.querySelector('#case-0 .z').textContent") != label
        moved = driver.execute_script(SUM_PIXELS)
        assert moved != first  # another slice is shown
        start = driver.execute_script("return document.querySelector('#case-0 input[type=range]').defaultValue")
        driver.execute_script(f"const s = document.querySelector('#case-0 input[type=range]'); "
                              f"s.value = {start}; s.dispatchEvent(new Event('input'));")  # the largest tumour
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(
            f"return document.querySelector('#case-0').dataset.drawn === '{start}'"))
        shown = driver.execute_script(SUM_PIXELS)
        driver.execute_script("document.querySelector('#case-0 input[value=ref]').click()")
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(SUM_PIXELS) != shown)  # the reference drew
        with_ref = driver.execute_script(SUM_PIXELS)
        driver.execute_script("document.querySelector('#case-0 input[value=unc]').click()")
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(SUM_PIXELS) != with_ref)  # the uncertainty drew
        before = driver.execute_script("return Array.from(document.querySelectorAll('table')[2].tBodies[0].rows)"
                                       ".map(r => r.cells[0].textContent)")
        driver.execute_script("document.querySelectorAll('table')[2].tHead.rows[0].cells[1].click()")
        after = driver.execute_script("return Array.from(document.querySelectorAll('table')[2].tBodies[0].rows)"
                                      ".map(r => Number(r.cells[1].dataset.v))")
        assert after == sorted(after, reverse=True) and len(after) == len(before) == 5
        driver.execute_script("document.querySelector('#case-0').scrollIntoView()")
        shot = report.with_name("html_report.png")
        assert driver.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        driver.quit()
