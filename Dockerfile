# A CPU image that segments every case of /input into /output, the convention of BraTS test-phase
# containers. Bake in a trained run packed with `brats-unet pack RUN run.zip`:
#   docker build -t brats-unet --build-arg RUN_ZIP=run.zip .
#   docker run --rm --network none -v "$PWD/cases:/input:ro" -v "$PWD/masks:/output" brats-unet
# /input holds case folders in any supported layout; /output gets <case>_seg.nii.gz in the input geometry.
FROM python:3.11-slim

ARG RUN_ZIP=run.zip
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1

# the CPU build of torch (a bare `torch` from PyPI is the multi-GB CUDA build)
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.4"

WORKDIR /opt/brats-unet
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && useradd --create-home --uid 1000 brats

COPY ${RUN_ZIP} /model/run.zip
USER brats
ENTRYPOINT ["brats-unet", "predict", "/model/run.zip", "/input", "--out", "/output", "--quiet"]
