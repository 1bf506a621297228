"""Does glibc malloc's habit of returning freed memory cost training time? Bare training steps of the
paper's U-Net (bench_train.step_rate) in fresh processes under different glibc malloc settings.

* default: glibc's own (allocations above a dynamic threshold, at most 32 MiB, are mmap'd and unmapped
  on free; the heap top is trimmed above 128 KiB, growing with use);
* keep: ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_TOP_PAD_`` large and ``MALLOC_MMAP_THRESHOLD_`` at its
  32 MiB maximum: freed memory stays mapped for the next step;
* no-mmap: ``MALLOC_MMAP_MAX_=0`` as well: every allocation from the heap, nothing ever unmapped;
* in-package: no environment, the process calls ``brats_unet.device.keep_freed_memory()`` (``mallopt``), as
  the Trainer does on CPU.

Same steps, same input, one process per setting, in turn. Run (nothing else running):
    .venv/bin/python benchmarks/bench_alloc.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from common import usage

HERE = Path(__file__).resolve().parent
BIG = str(1 << 34)  # 16 GiB: "never trim"
SETTINGS = {
    "default": {},
    "keep": {"MALLOC_TRIM_THRESHOLD_": BIG, "MALLOC_TOP_PAD_": str(1 << 30), "MALLOC_MMAP_THRESHOLD_": str(1 << 25)},
    "no-mmap": {"MALLOC_TRIM_THRESHOLD_": BIG, "MALLOC_TOP_PAD_": str(1 << 30), "MALLOC_MMAP_MAX_": "0"},
    "in-package": {"BENCH_KEEP": "1"},
}
CHILD = """
import os, resource
if os.environ.get("BENCH_KEEP"):
    from brats_unet.device import keep_freed_memory
    assert keep_freed_memory()
from bench_train import step_rate
from brats_unet.config import load_config
from brats_unet.models import build_model
cfg = load_config()
for precision, steps in (("bf16", 15), ("fp32", 8)):
    net = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    print(precision, step_rate(net, precision, precision == "bf16", steps), flush=True)
print("rss_gb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
"""


def main() -> None:
    results = {}
    for name, env in SETTINGS.items():
        out = subprocess.run([sys.executable, "-c", CHILD], cwd=HERE, env={**os.environ, **env}, check=True,
                             capture_output=True, text=True).stdout
        results[name] = dict((k, float(v)) for k, v in (line.split() for line in out.splitlines()))
        print(f"{name}: {results[name]}", flush=True)
    base = results["default"]
    print("\n| malloc setting | bf16 + CL slices/s | vs default | fp32 slices/s | vs default | peak RSS GB |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['bf16']:.1f} | {r['bf16'] / base['bf16']:.2f}x | {r['fp32']:.1f} | "
              f"{r['fp32'] / base['fp32']:.2f}x | {r['rss_gb']:.2f} |")


if __name__ == "__main__":
    usage(__doc__)
    main()
