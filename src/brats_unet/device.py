"""Device, numeric precision, autocast and memory format: how a model runs on the hardware.

``auto`` picks the fastest correct setting: CUDA -> bf16 autocast where the GPU supports it, else fp16
AMP with a gradient scaler; CPU -> bf16 autocast where the CPU computes bf16 natively (AVX-512-BF16 or AMX,
Arm's BF16: about 2.6x faster than fp32 for this model, benchmarks/RESULTS.md; emulated, 2x slower), else fp32.
Losses are always computed in float32.
"""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractContextManager

import torch

from .errors import ConfigError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda when available, else Apple's mps, else cpu; an unavailable device is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda: no CUDA device is available here; use auto or cpu")
    if name == "mps" and not _mps_available():
        raise ConfigError("device mps: Apple's Metal backend is not available here; use auto or cpu")
    return torch.device(name)


def machine_name(device: torch.device | None = None) -> str:
    """What a figure was measured on: the GPU's name on CUDA, else the CPU model and its core count."""
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    info: dict[str, str] = {}
    try:  # the model name alone ("AMD EPYC") does not tell a Zen 1 from a Zen 4: family and model do
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    model = info.get("model name") or platform.processor() or "unknown CPU"
    if "cpu family" in info:
        model += f" (family {info['cpu family']} model {info.get('model', '?')})"
    return f"{model}, {os.cpu_count()} cores" + (", native bf16" if cpu_has_fast_bf16() else "")


def _x86() -> bool:
    import platform

    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _onednn_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_has_fast_bf16() -> bool:
    """True when this CPU computes bf16 natively: on x86 the AVX-512-BF16 or AMX instructions, elsewhere
    (Arm's BF16 extension) what oneDNN reports.

    oneDNN's own answer is not enough on x86: it says yes on any AVX-512 core and emulates bf16 in fp32
    there. On an Intel Xeon (family 6 model 207) whose hypervisor hides AVX-512-BF16 and AMX, the recipe's
    step took 1.88 s in bf16 against 0.88 s in fp32 (``benchmarks/bench_recipes.py``, benchmarks/RESULTS.md).
    """
    if not _onednn_bf16():
        return False
    if not _x86():
        return True
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def resolve_precision(name: str, device: torch.device, key: str = "train.precision") -> str:
    """Resolve ``auto|fp32|bf16|amp|fp16`` to ``fp32|bf16|fp16`` for a device (``key``: the setting named
    in errors).

    ``fp16`` forces float16 autocast with a gradient scaler (GPUs without bf16, e.g. T4/V100); CUDA only.
    """
    if name == "fp32":
        return "fp32"
    if device.type == "cuda":
        if name == "bf16" or (name in ("auto", "amp") and torch.cuda.is_bf16_supported()):
            return "bf16"
        return "fp16"
    if device.type == "mps":
        return "fp32"  # autocast on mps is young; fp32 is what works everywhere there
    if name == "fp16":
        raise ConfigError(f"{key}=fp16 needs a CUDA device; on a CPU use auto, bf16 or fp32")
    if name in ("auto", "amp"):
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return "bf16"


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """Autocast context for a resolved precision ("bf16" | "fp16" | "fp32")."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def memory_format(dims: int, channels_last: bool) -> torch.memory_format:
    """channels_last (2D) / channels_last_3d (3D) or the default contiguous format."""
    if not channels_last:
        return torch.contiguous_format
    return torch.channels_last if dims == 2 else torch.channels_last_3d


# glibc mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
KEEP_SETTINGS = {M_TRIM_THRESHOLD: 2**31 - 1, M_TOP_PAD: 2**30, M_MMAP_THRESHOLD: 2**25}


def keep_freed_memory() -> bool:
    """Ask glibc malloc to keep freed memory mapped for reuse instead of returning it each step.

    A CPU training step frees and re-allocates the same activation buffers every step; by default glibc
    unmaps blocks above a threshold and trims the heap, so each step pays for fresh page faults. Keeping
    them (trim and mmap thresholds raised, as ``MALLOC_TRIM_THRESHOLD_`` etc. would at start) made the
    paper's bf16 step 1.18x faster here for ~0.2 GB more peak memory (``benchmarks/bench_alloc.py``; the
    fp32 gain varied between runs). Returns False where it does not apply (not glibc, or
    ``BRATS_UNET_MALLOC=system``).
    """
    import ctypes
    import ctypes.util
    import os
    import platform

    if os.environ.get("BRATS_UNET_MALLOC") == "system" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    return all(libc.mallopt(param, value) == 1 for param, value in KEEP_SETTINGS.items())
