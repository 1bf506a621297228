"""Does glibc malloc's habit of returning freed memory cost training time? Bare training steps of the
paper's U-Net (bench_train.step_rate) in fresh processes under different glibc malloc settings.

* default: glibc's own (allocations above a dynamic threshold, at most 32 MiB, are mmap'd and unmapped
  on free; the heap top is trimmed above 128 KiB, growing with use);
* keep: ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_TOP_PAD_`` large and ``MALLOC_MMAP_THRESHOLD_`` at its
  32 MiB maximum: freed memory stays mapped for the next step;
* no-mmap: ``MALLOC_MMAP_MAX_=0`` as well: every allocation from the heap, nothing ever unmapped;
* in-package: no environment, the process calls ``brats_unet.device.keep_freed_memory()`` (``mallopt``), as
  the Trainer does on CPU;
* jemalloc: ``LD_PRELOAD=libjemalloc.so.2`` with decay off (``MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1``:
  freed pages are never handed back), and the in-package call as the Trainer makes it (it then tunes glibc's
  unused arena: harmless);
* tcmalloc: ``LD_PRELOAD=libtcmalloc_minimal.so.4`` (gperftools' defaults), likewise.

The preloads run only where the library is installed (Debian: ``apt-get install libjemalloc2
libtcmalloc-minimal4``); otherwise their rows say so. bf16 is timed only on a CPU with native bf16 (elsewhere
autocast emulates it, minutes a row, and nobody trains that way). Same steps, same input, one process per
setting, in turn. Run (nothing else running):
    .venv/bin/python benchmarks/bench_alloc.py
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

from common import machine, usage

HERE = Path(__file__).resolve().parent
BIG = str(1 << 34)  # 16 GiB: "never trim"
SETTINGS = {
    "default": {},
    "keep": {"MALLOC_TRIM_THRESHOLD_": BIG, "MALLOC_TOP_PAD_": str(1 << 30), "MALLOC_MMAP_THRESHOLD_": str(1 << 25)},
    "no-mmap": {"MALLOC_TRIM_THRESHOLD_": BIG, "MALLOC_TOP_PAD_": str(1 << 30), "MALLOC_MMAP_MAX_": "0"},
    "in-package": {"BENCH_KEEP": "1"},
}
# Allocators preloaded in place of glibc's malloc: name for ldconfig, Debian package, extra environment.
PRELOADS = {
    "jemalloc": ("jemalloc", "libjemalloc2",
                 {"MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1", "BENCH_KEEP": "1"}),
    "tcmalloc": ("tcmalloc_minimal", "libtcmalloc-minimal4", {"BENCH_KEEP": "1"}),
}
CHILD = """
import os, resource
if os.environ.get("BENCH_KEEP"):
    from brats_unet.device import keep_freed_memory
    assert keep_freed_memory()
from workloads import step_rate
from brats_unet.config import load_config
from brats_unet.device import cpu_has_fast_bf16
from brats_unet.models import build_model
cfg = load_config()
runs = (("bf16", 15), ("fp32", 8)) if cpu_has_fast_bf16() else (("fp32", 8),)
for precision, steps in runs:
    net = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    print(precision, step_rate(net, precision, precision == "bf16", steps), flush=True)
print("rss_gb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
"""


def settings() -> dict[str, dict[str, str] | str]:
    """Every setting's environment, or for an allocator not installed here the Debian package to install."""
    out: dict[str, dict[str, str] | str] = dict(SETTINGS)
    for name, (lib, package, env) in PRELOADS.items():
        soname = ctypes.util.find_library(lib)
        out[name] = {"LD_PRELOAD": soname, **env} if soname else package
    return out


def cell(r: dict[str, float], base: dict[str, float], key: str) -> str:
    """'rate | ratio to default' for one precision, or dashes where it was not timed."""
    return f"{r[key]:.1f} | {r[key] / base[key]:.2f}x" if key in r else "- | -"


def main() -> None:
    print(machine(), flush=True)
    results = {}
    for name, env in settings().items():
        if isinstance(env, str):
            print(f"{name}: not installed here (Debian: apt-get install {env})")
            continue
        out = subprocess.run([sys.executable, "-c", CHILD], cwd=HERE, env={**os.environ, **env}, check=True,
                             capture_output=True, text=True).stdout
        results[name] = dict((k, float(v)) for k, v in (line.split() for line in out.splitlines()))
        print(f"{name}: {results[name]}", flush=True)
    base = results["default"]
    print("\n| malloc setting | bf16 + CL slices/s | vs default | fp32 slices/s | vs default | peak RSS GB |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {cell(r, base, 'bf16')} | {cell(r, base, 'fp32')} | {r['rss_gb']:.2f} |")


if __name__ == "__main__":
    usage(__doc__)
    main()
