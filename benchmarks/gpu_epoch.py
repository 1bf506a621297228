"""One paper-model training epoch on a GPU, end to end: the paper's 36,250 slices (250 patients x 145).

Builds a synthetic slice cache in the package's own format (``image.npy`` (2, 145, 128, 128) float16,
``seg.npy`` uint8, ``meta.json`` per case; read through ``SliceCache``/``SliceDataset`` as training reads
it), then trains one epoch of the paper's U-Net: bf16 autocast, channels_last, a pinned-memory
``DataLoader`` with workers, loss and 4x4 confusion counts kept on the device and read once at the end
(as ``Trainer`` does). Prints epoch seconds, slices/s, the share of wall time spent waiting for the next
batch, and GPU utilisation sampled by ``nvidia-smi``. The paper reports 210 s per epoch on a Colab GPU.

Run on a GPU machine: python benchmarks/gpu_epoch.py [--compile] [--workers 8]
On a CPU (smoke test only): python benchmarks/gpu_epoch.py --cases 4 --device cpu
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from brats_unet.atomic_files import write_json
from brats_unet.brats import NUM_CLASSES
from brats_unet.config import load_config
from brats_unet.data.cache import SliceCache
from brats_unet.data.datasets import SliceDataset, collate_pad
from brats_unet.data.preprocess import CaseMeta
from brats_unet.device import autocast, memory_format, resolve_precision
from brats_unet.infer.whole_case import to_labels
from brats_unet.losses import build_loss
from brats_unet.metrics.confusion import confusion_counts
from brats_unet.metrics.pooled import pooled_metrics
from brats_unet.models import build_model

SLICES, SIZE = 145, 128


def synthetic_cache(root: Path, cases: int) -> SliceCache:
    """``cases`` cases of random images and blob labels in the cache layout."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    ids = []
    for i in range(cases):
        cid = f"synth_{i:03d}"
        folder = root / cid
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "image.npy", rng.standard_normal((2, SLICES, SIZE, SIZE), dtype=np.float32).astype(np.float16))
        cy, cx, r = rng.integers(40, 88, 2).tolist() + [int(rng.integers(8, 24))]
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.uint8) * 2
        seg = np.zeros((SLICES, SIZE, SIZE), np.uint8)
        seg[40:110] = disc
        np.save(folder / "seg.npy", seg)
        write_json(folder / "meta.json", CaseMeta(cid, "brats2020", (240, 240, 155), (1.0, 1.0, 1.0), (5, 150),
                                                  (0, 240, 0, 240), (SIZE, SIZE), tuple(range(40, 110))).to_json())
        ids.append(cid)
    return SliceCache(root, ids)


def gpu_utilisation(samples: list[float], stop: threading.Event) -> None:
    """Sample ``nvidia-smi`` GPU utilisation (%) every 0.2 s until ``stop`` is set."""
    while not stop.is_set():
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=5).stdout
            samples.append(float(out.split()[0]))
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return
        stop.wait(0.2)


def main(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    cfg = load_config(overrides=[f"train.batch_size={args.batch}"])
    precision = resolve_precision("auto", device)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = SliceDataset(synthetic_cache(Path(tmp), args.cases), [f"synth_{i:03d}" for i in range(args.cases)])
        print(f"synthetic cache: {len(data)} slices in {time.perf_counter() - t0:.1f} s; device {device}, {precision}")
        loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, collate_fn=collate_pad,
                                             num_workers=args.workers, pin_memory=device.type == "cuda",
                                             persistent_workers=args.workers > 0, drop_last=True)
        net = build_model(cfg.model, cfg.in_channels, cfg.num_classes).to(device, memory_format=memory_format(2, True))
        model = torch.compile(net) if args.compile else net
        opt, loss_fn = torch.optim.Adam(net.parameters(), 1e-3), build_loss(cfg.loss)
        for epoch in ("warm-up (20 steps)", "timed epoch"):
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
            matrix = torch.zeros((NUM_CLASSES, NUM_CLASSES), dtype=torch.int64, device=device)
            waiting, steps, util, stop = 0.0, 0, [], threading.Event()
            sampler = threading.Thread(target=gpu_utilisation, args=(util, stop), daemon=True)
            if device.type == "cuda":
                torch.cuda.synchronize()
                sampler.start()
            start = time.perf_counter()
            batches = iter(loader)
            while True:
                t = time.perf_counter()
                try:
                    images, labels = next(batches)
                except StopIteration:
                    break
                waiting += time.perf_counter() - t
                images = images.to(device, non_blocking=True).contiguous(memory_format=memory_format(2, True))
                labels = labels.to(device, non_blocking=True)
                with autocast(device, precision):
                    out = model(images)
                loss = loss_fn(out, labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += loss.detach()
                matrix += confusion_counts(to_labels(out.detach().float(), "multiclass", channel_axis=1), labels, 4)
                steps += 1
                if epoch.startswith("warm") and steps == 20:
                    break
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            stop.set()
            metrics = pooled_metrics(matrix.cpu().numpy())
            print(f"{epoch}: {steps} steps, {seconds:.2f} s, {steps * args.batch / seconds:.0f} slices/s, "
                  f"waiting for data {waiting / seconds:.0%}, GPU utilisation "
                  f"{np.mean(util) if util else float('nan'):.0f} % (nvidia-smi, {len(util)} samples), "
                  f"loss {float(loss_sum) / steps:.4f}, pixel accuracy {metrics['accuracy']:.4f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=250)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    main(ap.parse_args())
