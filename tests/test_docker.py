"""The Dockerfile builds and its entry point predicts /input into /output (where a Docker daemon runs)."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def test_dockerfile_names_the_challenge_convention():
    text = (REPO / "Dockerfile").read_text()
    assert '"/input", "--out", "/output"' in text and "download.pytorch.org/whl/cpu" in text


@pytest.mark.skipif(not _docker_ready(), reason="no Docker daemon here: the image build and run are untested")
def test_image_predicts_input_into_output(sample_run, sample_dir, tmp_path):
    from brats_unet.runs.pack import pack

    pack(sample_run, REPO / "run.zip")
    try:
        cmd = ["docker", "build", "-t", "brats-unet-test", "--build-arg", "RUN_ZIP=run.zip", str(REPO)]
        build = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        assert build.returncode == 0, build.stderr[-2000:]
    finally:
        (REPO / "run.zip").unlink()
    cases = tmp_path / "input"
    shutil.copytree(sample_dir / "Brats18_TCIA02_135_1", cases / "Brats18_TCIA02_135_1")
    (tmp_path / "output").mkdir(mode=0o777)
    run = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{cases}:/input:ro", "-v",
                          f"{tmp_path / 'output'}:/output", "brats-unet-test"], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "output" / "Brats18_TCIA02_135_1_seg.nii.gz").exists()
