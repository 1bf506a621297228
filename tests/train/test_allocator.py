"""CPU training keeps freed memory mapped (glibc mallopt), measured by whether a large block is mmap'd."""

import os
import platform
import subprocess
import sys

import pytest

CHILD = r"""
import ctypes, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                 "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype, libc.malloc.restype = MallInfo2, ctypes.c_void_p
if sys.argv[1] == "keep":
    from brats_unet.device import keep_freed_memory
    print(keep_freed_memory())
before = libc.mallinfo2().hblks
libc.malloc(8 << 20)
print(libc.mallinfo2().hblks - before)  # 1: the 8 MiB block was mmap'd (and would be unmapped on free)
"""

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc malloc only")


def _child(*args, env=None):
    return subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True,
                          env=env).stdout.split()


@pytest.mark.slow
def test_keep_freed_memory_serves_large_blocks_from_the_heap():
    assert _child("default") == ["1"]  # glibc's own: a fresh process mmaps 8 MiB
    assert _child("keep") == ["True", "0"]  # kept: from the heap, reused next step instead of re-faulted


@pytest.mark.slow
def test_users_can_opt_out():
    assert _child("keep", env={**os.environ, "BRATS_UNET_MALLOC": "system"}) == ["False", "1"]


def test_the_trainer_asks_for_it_on_cpu(phantoms, tmp_path, monkeypatch):
    from brats_unet.config import load_config
    from brats_unet.train import loop
    from tests.conftest import TINY

    calls = []
    monkeypatch.setattr(loop, "keep_freed_memory", lambda: calls.append(1) or True)
    cfg = load_config(overrides=TINY + [f"data.cache_dir={tmp_path / 'cache'}", "train.device=cpu"])
    loop.Trainer(cfg, phantoms, tmp_path / "run", progress=False)
    assert calls == [1]
