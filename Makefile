# brats-unet: `make demo` (first command) and `make test` (the test command CI runs).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_CPU := torch==2.13.0

.PHONY: setup demo test bench clean

$(BIN)/brats-unet: pyproject.toml
	$(PY) -m venv $(VENV)
	# Without CUDA, install the CPU build of torch first: a bare `torch` requirement pulls a multi-GB CUDA build.
	if ! command -v nvidia-smi >/dev/null 2>&1; then \
	  $(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q $(TORCH_CPU); \
	fi
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/brats-unet

setup: $(BIN)/brats-unet

demo: setup
	$(BIN)/brats-unet demo

# Lint and types first (seconds), then the tests; CI runs exactly this.
test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q tests

bench: setup
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_metrics.py

clean:
	rm -rf $(VENV) build *.egg-info
