# brats-unet: `make demo` (first command), `make check` (the fast lane, every edit) and `make test` (everything; CI).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_FALLBACK ?= torch==2.13.0

.PHONY: setup demo check test bench docs docs-screenshot clean

$(BIN)/brats-unet: pyproject.toml
	$(PY) -m venv $(VENV)
	# Without an NVIDIA GPU, take torch from PyTorch's CPU wheel index first: a bare `torch` from PyPI is the
	# multi-GB CUDA build. Site pip config is set aside for that one install (an extra index there could offer a
	# newer CUDA build); where the CPU index cannot be reached, fall back to the plain requirement.
	if ! command -v nvidia-smi >/dev/null 2>&1; then \
	  $(BIN)/python -c "import torch" 2>/dev/null || \
	  PIP_CONFIG_FILE=/dev/null $(BIN)/pip install -q --index-url $(TORCH_CPU_INDEX) --timeout 15 --retries 1 \
	    'torch>=2.4' 2>/dev/null || \
	  $(BIN)/pip install -q $(TORCH_FALLBACK); \
	fi
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/brats-unet

setup: $(BIN)/brats-unet

demo: setup
	$(BIN)/brats-unet demo

# The fast lane for every edit: lint, types and the tests not marked slow (no training on real cases, no
# subprocess or torchrun, no browser); under 4 minutes on 2 cores.
check: setup
	$(BIN)/ruff check src tests benchmarks studies docs
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not slow" tests

# Everything: lint and types first (seconds), then every test; CI runs exactly this.
test: setup
	$(BIN)/ruff check src tests benchmarks studies docs
	$(BIN)/mypy
	$(BIN)/python -m pytest -q tests

bench: setup
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_predict.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_norm.py
	$(BIN)/python benchmarks/bench_alloc.py
	$(BIN)/python benchmarks/profile_where.py train
	$(BIN)/python benchmarks/profile_where.py train --recipe recommended
	$(BIN)/python benchmarks/profile_where.py predict
	$(BIN)/python benchmarks/bench_onnx.py

# The generated reference page (tests/test_docs.py fails when it is stale).
docs: setup
	$(BIN)/python -m brats_unet.cli.reference > docs/reference/cli.md

# The README's picture of the HTML report and the docs' figures, from a real run of the recommended recipe
# (RUN=... to use one you have, e.g. a fold of studies/cv30; else one is trained here, ~5 min on 2 cores).
docs-screenshot: setup
	$(BIN)/python docs/tools/screenshot.py $(if $(RUN),--run $(RUN))

clean:
	rm -rf $(VENV) build *.egg-info
