#!/bin/bash
# The device check behind the "CUDA path" section of benchmarks/RESULTS.md: tests on CUDA, step times,
# and train -> evaluate -> predict through the CLI on the GPU. Run from the repository root on a CUDA
# machine whose python3 has torch:   BRATS_SAMPLE=/path/to/cases WHEELS=dir bash benchmarks/gpu_check.sh
# WHEELS (optional) holds wheels of what that python lacks (nibabel, monai); results go to $OUT (or ./gpu-check).
set -o pipefail
OUT=${OUT:-gpu-check}; mkdir -p "$OUT"
if [ -n "$WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PYTHONPATH:$PWD/src:$PWD/benchmarks BRATS_UNET_CACHE=${BRATS_UNET_CACHE:-/tmp/cache} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
echo "== pytest (train.device=auto -> cuda)"
timeout 300 python3 -m pytest -q -p no:cacheprovider -rs tests > "$OUT/pytest.log" 2>&1; echo "pytest rc=$?"
tail -5 "$OUT/pytest.log"
echo "== bench_gpu"
timeout 300 python3 benchmarks/bench_gpu.py 2>&1 | tee "$OUT/bench_gpu.md"
echo "== CLI on CUDA: recommended recipe, 3 epochs x 100 steps, evaluate, predict"
R=/tmp/run-gpu; CASE=$(ls -d "$BRATS_SAMPLE"/*/ | head -1)
timeout 300 python3 -m brats_unet train --data "$BRATS_SAMPLE" --out $R --config configs/recommended.yaml \
  --set train.epochs=3 --set train.steps_per_epoch=100 --quiet &&
python3 -m brats_unet evaluate $R --split test --quiet &&
python3 -m brats_unet predict $R "$CASE" --out /tmp/pred-gpu
cp $R/metrics.csv "$OUT/gpu_metrics.csv"; cp $R/run.json "$OUT/gpu_run.json"; cp $R/eval/brats.md "$OUT/gpu_brats.md"
