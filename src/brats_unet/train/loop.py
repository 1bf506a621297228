"""``train(config, data_root, run_dir)``: the training loop of every model in the family.

Each epoch draws its batches, augmentation and dropout from generators seeded by (seed, epoch), so an
epoch is a pure function of the state at its start: ``--resume`` from ``last.pt`` reproduces the
uninterrupted run on CPU with the same seed.

Under ``torchrun`` the same loop runs as DistributedDataParallel: each rank takes a disjoint share of
every global batch (so the global batch and the epoch's content are those of the single-process run),
DDP averages the gradients, validation cases are shared out and the scores gathered, rank 0 alone
writes, and rank 0's clock and early-stopping verdict are sent to all ranks so they stop together.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..atomic_files import atomic_group, refuse_file, remove_stale_temps
from ..brats import NUM_CLASSES, REGION_NAMES
from ..config import Config, to_dict
from ..data.augment import build_augmentation
from ..data.cache import prepare_cache, select_cases
from ..data.datasets import PatchDataset, SliceDataset, collate_pad, sample_indices
from ..data.signatures import cache_signatures
from ..data.split import fold_split, load_split, make_split
from ..device import autocast, keep_freed_memory, machine_name, memory_format, resolve_device, resolve_precision
from ..distributed import SINGLE, all_gather, all_sum, barrier, is_rank0, rank0_decides, setup, share
from ..errors import BratsError, ConfigError
from ..evaluation.cached_cases import summarise_validation, validate_cases
from ..infer.whole_case import to_labels
from ..losses import build_loss
from ..metrics.confusion import confusion_counts
from ..metrics.pooled import pooled_metrics
from ..models import build_model
from ..plots import training_curves
from ..runs.checkpoint import load_checkpoint, rng_state, set_rng_state
from ..runs.folder import check_resumable, write_metrics_to, write_run_files
from .health import collapse_message
from .tensorboard_log import open_sinks, validation_overlay


def kill_point(phase: str, epoch: int) -> None:
    """Fault injection for the reliability tests: ``BRATS_UNET_KILL_AT=<phase>:<epoch>`` (1-based) makes this
    process SIGKILL itself there, exactly as ``kill -9`` at that moment would. Phases: ``step`` (inside the
    epoch), ``validation``, ``checkpoint`` (the epoch's files written, not yet renamed into place)."""
    if os.environ.get("BRATS_UNET_KILL_AT") == f"{phase}:{epoch + 1}":
        os.kill(os.getpid(), signal.SIGKILL)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of one epoch's dropout and augmentation streams: distinct per (seed, epoch, rank), so an
    epoch replays identically on --resume whatever ran before it (rank 0's is the single-process one)."""
    return seed * 100003 + epoch + 7919 * rank


class Trainer:
    """Holds the model, optimiser, data and history of one run; :meth:`fit` runs the epochs."""

    def __init__(self, cfg: Config, data_root: str | Path, run_dir: str | Path, progress: bool = True, on_step=None,
                 distributed: bool = True):
        self.cfg, self.data_root, self.run_dir = cfg, Path(data_root), Path(run_dir)
        self.device = resolve_device(cfg.train.device)
        self.dist = setup(self.device.type) if distributed else SINGLE
        if self.dist.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self._check_distributed()
        self.progress, self.on_step = progress and self.dist.is_main, on_step
        self.precision = resolve_precision(cfg.train.precision, self.device)
        if self.device.type == "cpu":
            keep_freed_memory()  # CPU steps re-allocate the same buffers: keep them mapped
        self.loss_fn = build_loss(cfg.loss)  # before the cache: a loss or split error costs no preprocessing
        self.folds: Optional[list] = None  # the cross-validation folds when data.fold is set
        self.split = self._split([c.case_id for c in select_cases(data_root, cfg.data)])
        self.cache = self._cache()
        torch.manual_seed(cfg.train.seed)
        self.net = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
        self.net = self.net.to(self.device, memory_format=self._mf())  # type: ignore[call-overload]
        self.model = self._wrap(self.net)  # what training calls: DDP under torchrun, else the net itself
        self.history: list[dict] = []  # before the scheduler: the poly lambda reads self.elapsed when built
        self.best, self.bad_epochs, self.elapsed, self.start_epoch = None, 0, 0.0, 0
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
        self.scheduler = self._scheduler()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.train_data = self._train_data()
        self._collate = functools.partial(collate_pad, multiple=cfg.model.multiple)  # picklable for workers

    def _mf(self):
        return memory_format(self.cfg.model.spatial_dims, self.cfg.train.channels_last)

    def _check_distributed(self) -> None:
        t, world = self.cfg.train, self.dist.world
        if t.batch_size % world:
            fix = -(-t.batch_size // world) * world
            raise ConfigError(f"train.batch_size: {t.batch_size} does not split over {world} processes; use {fix}")
        if t.sync_bn and self.dist.active and self.device.type != "cuda":
            raise ConfigError("train.sync_bn: SyncBatchNorm needs CUDA devices; remove it for CPU (gloo) runs")

    def _cache(self):
        """Rank 0 builds the cache while the others wait, then they read what it built."""
        if not self.dist.is_main:
            barrier(self.dist)
        cache = prepare_cache(self.data_root, self.cfg.data, workers=max(1, self.cfg.train.num_workers or 2),
                              progress=self.progress, multiple=self.cfg.model.multiple)
        if self.dist.is_main:
            barrier(self.dist)
        return cache

    def _wrap(self, net: torch.nn.Module) -> torch.nn.Module:
        if not self.dist.active:
            return net
        if self.cfg.train.sync_bn:
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(net, device_ids=ids)

    def _stop_now(self, deadline: float) -> bool:
        """Past the wall-clock budget, by rank 0's clock (a broadcast only when there is a budget)."""
        if deadline == math.inf:
            return False
        return rank0_decides(self.dist, time.monotonic() > deadline)

    def _split(self, case_ids: list[str]) -> dict:
        d = self.cfg.data
        if d.split_file:
            split, self.folds = load_split(d.split_file, case_ids, d.fold)
            return split
        if d.fold is not None:
            split, self.folds = fold_split(case_ids, d.split_fractions, d.split_seed, d.fold, d.folds)
            return split
        return make_split(case_ids, d.split_fractions, d.split_seed)

    def _scheduler(self):
        t = self.cfg.train
        if t.schedule == "plateau":
            mode = "min" if t.monitor == "val_loss" else "max"
            return torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, mode=mode, factor=0.5, patience=3)
        if t.schedule == "poly":
            return torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda e: (1 - self.budget_spent(e)) ** 0.9)
        return None

    def budget_spent(self, epochs_done: int) -> float:
        """Fraction of the training budget spent: epochs, or wall-clock when ``train.max_minutes`` ends sooner.

        The poly schedule follows it, so a run cut short by its time budget still anneals its learning rate
        (an epoch-based poly over ``epochs=1000`` would barely move). Capped below 1 to keep the rate positive.
        """
        t = self.cfg.train
        spent = epochs_done / t.epochs
        if t.max_minutes:
            spent = max(spent, self.elapsed / (60 * t.max_minutes))
        return min(spent, 0.999)

    def _train_data(self):
        cfg, ids = self.cfg, self.split["train"]
        if cfg.model.spatial_dims == 3:
            tumour = cfg.data.oversample if cfg.data.oversample > 0 else 0.33
            length = self.steps_per_epoch(len(ids)) * cfg.train.batch_size
            return PatchDataset(self.cache, ids, cfg.data.patch_size, length, tumour, cfg.train.seed)
        return SliceDataset(self.cache, ids, cfg.data.context, cfg.data.window, cfg.train.seed)

    def steps_per_epoch(self, n_cases: int | None = None) -> int:
        """Batches per epoch: ``train.steps_per_epoch``, else a full pass (2D) / 8 patches per case (3D)."""
        t = self.cfg.train
        if t.steps_per_epoch:
            return t.steps_per_epoch
        if self.cfg.model.spatial_dims == 3:
            return max(1, math.ceil(8 * (n_cases or len(self.split["train"])) / t.batch_size))
        return max(1, math.ceil(len(self.train_data) / t.batch_size))

    # ----- one epoch -------------------------------------------------------------------------------
    def _batches(self, epoch: int):
        """The batches of an epoch, deterministic in (seed, epoch)."""
        cfg, steps = self.cfg, self.steps_per_epoch()
        self.train_data.set_epoch(epoch)
        if cfg.model.spatial_dims == 3:
            order = np.arange(len(self.train_data))
        else:
            rng = np.random.default_rng((cfg.train.seed, epoch))
            order = sample_indices(len(self.train_data), steps * cfg.train.batch_size,
                                   self.train_data.tumour_indices, cfg.data.oversample, rng)
        size = cfg.train.batch_size
        batches = [order[i : i + size].tolist()[self.dist.rank :: self.dist.world] for i in range(0, len(order), size)]
        return torch.utils.data.DataLoader(self.train_data, batch_sampler=batches[:steps], collate_fn=self._collate,
                                           num_workers=cfg.train.num_workers)

    def _step(self, images, labels, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step; returns (loss, the 4x4 confusion counts of the full-resolution output against
        the labels the step trained on, augmented ones included), both left on the device: reading them every
        step would wait for the GPU, so the epoch reads their sums once."""
        images, labels = images.to(self.device), labels.to(self.device)
        if self.cfg.data.augment:  # on the training device: the GPU does it when there is one
            images, labels = build_augmentation(self.cfg.data.augmentation)(images, labels, generator)
        images = images.contiguous(memory_format=self._mf())
        with autocast(self.device, self.precision):
            out = self.model(images)
        loss = self.loss_fn(out, labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        main = out[0] if isinstance(out, list) else out
        pred = to_labels(main.detach().float(), self.cfg.loss.mode, channel_axis=1)
        return loss.detach(), confusion_counts(pred, labels, NUM_CLASSES)

    def _train_epoch(self, epoch: int, deadline: float) -> dict:
        self.model.train()
        self.loss_fn.set_epoch(epoch)
        seed = epoch_seed(self.cfg.train.seed, epoch, self.dist.rank)
        torch.manual_seed(seed)  # dropout stream of this epoch
        generator = torch.Generator().manual_seed(seed)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        matrix = torch.zeros((NUM_CLASSES, NUM_CLASSES), dtype=torch.int64, device=self.device)
        steps = seen = 0
        bar = self._bar(epoch)
        for step, (images, labels) in enumerate(self._batches(epoch)):
            if self.on_step:
                self.on_step(epoch, step)
            if step == 1:
                kill_point("step", epoch)
            loss, counts = self._step(images, labels, generator)
            loss_sum += loss
            matrix += counts
            steps, seen = steps + 1, seen + len(images)
            bar.update()
            if not bar.disable and step % 10 == 0:  # the only per-step host read, and only with a progress bar
                rate = seen / max(bar.format_dict["elapsed"], 1e-9)
                bar.set_postfix(loss=f"{float(loss):.4f}", slices_per_s=f"{rate:.1f}")
            if self._stop_now(deadline):
                break
        bar.close()
        # every rank's loss is the mean over its equal share of the batch: their mean is the batch's loss
        totals = all_sum(self.dist, torch.stack([loss_sum.cpu(), torch.tensor(steps, dtype=torch.float64)]))
        if not torch.isfinite(totals[0]):
            raise BratsError(f"the training loss became {float(totals[0])} in epoch {epoch + 1}; lower train.lr "
                             "or use train.precision=fp32")
        pooled = all_sum(self.dist, matrix.cpu()).numpy()
        if self.dist.is_main and (message := collapse_message(pooled, epoch)):
            print(message, file=sys.stderr, flush=True)
        return {"loss": float(totals[0] / totals[1]), **pooled_metrics(pooled)}

    def _validate(self, val_ids: list[str]) -> dict:
        """Each rank scores its share of the validation cases; every rank gets the merged scores."""
        kill_point("validation", len(self.history))
        part = validate_cases(self.net, self.cache, share(val_ids, self.dist), self.cfg, self.device, self.precision,
                              self.loss_fn)
        return summarise_validation(all_gather(self.dist, part), val_ids)

    def _bar(self, epoch: int):
        from tqdm.auto import tqdm

        return tqdm(total=self.steps_per_epoch(), desc=f"epoch {epoch + 1}/{self.cfg.train.epochs}",
                    unit="step", disable=not self.progress, leave=False)

    # ----- epochs, checkpoints, resume -------------------------------------------------------------
    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return self.best is None
        better = self.best is None or (value < self.best if self.cfg.train.monitor == "val_loss" else value > self.best)
        return better

    def _state(self, epoch: int) -> dict:
        return {"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else {}, "scaler": self.scaler.state_dict(),
                "epoch": epoch, "history": self.history, "best": self.best, "bad_epochs": self.bad_epochs,
                "elapsed": self.elapsed, "rng": rng_state(), "config": to_dict(self.cfg), "split": self.split}

    def resume(self) -> None:
        """Load ``last.pt`` and continue after its epoch."""
        state = load_checkpoint(self.run_dir / "last.pt")
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler and state["scheduler"]:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.history, self.best, self.bad_epochs = list(state["history"]), state["best"], state["bad_epochs"]
        self.elapsed, self.start_epoch = state["elapsed"], state["epoch"] + 1
        set_rng_state(state["rng"])
        if state["split"] != self.split:
            raise BratsError(f"{self.run_dir}: the stored split differs from the one rebuilt now; data changed?")

    def _end_epoch(self, epoch: int, train: dict, val: dict, seconds: float) -> bool:
        """Record metrics, write checkpoints and figure; return True to stop early."""
        row = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"], "seconds": round(seconds, 2),
               **{f"train_{k}": train[k] for k in ("loss", "accuracy", "mean_iou", "dice")},
               **{f"val_{k}": val[k] for k in ("loss", "accuracy", "mean_iou", "dice", *REGION_NAMES, "dice_mean")}}
        self.history.append(row)
        monitored = val["loss"] if self.cfg.train.monitor == "val_loss" else val["dice_mean"]
        improved = self._improved(monitored)
        self.best, self.bad_epochs = (monitored, 0) if improved else (self.best, self.bad_epochs + 1)
        if self.scheduler is not None:
            self.scheduler.step(monitored) if self.cfg.train.schedule == "plateau" else self.scheduler.step()
        if self.dist.is_main:
            self._commit(epoch, improved)
            training_curves(self.history, self.run_dir / "figures" / "fig2_curves.png")
        patience = self.cfg.train.early_stopping
        return rank0_decides(self.dist, patience is not None and self.bad_epochs >= patience)

    def _commit(self, epoch: int, improved: bool) -> None:
        """last.pt, metrics.csv and (if improved) best.pt of an epoch replace the old ones together or not at
        all, so after any failure (a full disk, a kill) they describe the same epoch."""
        state = self._state(epoch)
        names = ["last.pt", "metrics.csv"] + (["best.pt"] if improved else [])
        with atomic_group(*(self.run_dir / n for n in names)) as temps:
            torch.save(state, temps[0])
            write_metrics_to(temps[1], self.history)
            if improved:
                torch.save(state, temps[2])
            kill_point("checkpoint", epoch)

    def fit(self) -> dict:
        """Run the remaining epochs within ``train.max_minutes``; return the last history row."""
        budget = self.cfg.train.max_minutes
        deadline = time.monotonic() + (budget * 60 - self.elapsed if budget else math.inf)
        val_ids = self.split["val"][: self.cfg.train.val_max_cases or None]
        sinks = open_sinks(self.cfg, self.run_dir, self.start_epoch) if self.dist.is_main else []
        try:
            return self._epochs(deadline, val_ids, sinks)
        finally:
            for sink in sinks:
                sink.close()

    def _epochs(self, deadline: float, val_ids: list[str], sinks: list) -> dict:
        for epoch in range(self.start_epoch, self.cfg.train.epochs):
            if self._stop_now(deadline):  # a resumed run whose budget is already spent
                break
            t0 = time.monotonic()
            train = self._train_epoch(epoch, deadline)
            val = self._validate(val_ids)
            self.elapsed += time.monotonic() - t0
            stop = self._end_epoch(epoch, train, val, time.monotonic() - t0)
            if sinks:
                image = validation_overlay(self.net, self.cache, val_ids[0], self.cfg, self.device,
                                           self.precision) if val_ids else None
                for sink in sinks:
                    sink.epoch(self.history[-1], image)
            if self.progress:
                print(_summary_line(self.history[-1], self.cfg.train.epochs), flush=True)
            if stop or self._stop_now(deadline):
                break
        return self.history[-1] if self.history else {}


def _summary_line(row: dict, epochs: int) -> str:
    return (f"epoch {int(row['epoch'])}/{epochs}  loss {row['train_loss']:.4f}  val_loss {row['val_loss']:.4f}  "
            f"val Dice WT {row['val_WT']:.3f} TC {row['val_TC']:.3f} ET {row['val_ET']:.3f}  ({row['seconds']:.0f}s)")


def train(cfg: Config, data_root: str | Path, run_dir: str | Path, resume: bool = False,
          progress: bool = True, on_step=None, distributed: bool = True) -> dict:
    """Train a model as ``cfg`` says, writing everything into ``run_dir``; returns the final metrics row.

    Under torchrun (``WORLD_SIZE`` > 1) this is one rank of a DDP run, unless ``distributed`` is False
    (the study runner trains one variant per process that way).

    Raises:
        BratsError: the run folder already holds a run (and ``resume`` is False), or bad data/config.
    """
    run_dir = Path(run_dir)
    refuse_file(run_dir, "run folder")
    check_resumable(run_dir, cfg, resume)
    created = _first_missing(run_dir)
    try:
        trainer = Trainer(cfg, data_root, run_dir, progress, on_step, distributed)
        if resume:
            trainer.resume()
        if trainer.dist.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(run_dir)  # one writer per run folder: any temporary here is an interrupted one
            write_run_files(run_dir, cfg, trainer.split, data_root, {
                "device": str(trainer.device), "machine": machine_name(trainer.device), "precision": trainer.precision,
                "cache": str(trainer.cache.path), "resumed_from_epoch": trainer.start_epoch,
                "processes": trainer.dist.world}, trainer.folds,
                cache_signatures(trainer.cache.meta, trainer.split["train"]))
        return trainer.fit()
    except BaseException:
        # a run that failed before its first checkpoint leaves no folder behind (only rank 0 ever made one)
        if created is not None and is_rank0() and not (run_dir / "last.pt").exists():
            shutil.rmtree(created, ignore_errors=True)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (what this run would create), or None."""
    missing = None
    for p in [path, *path.parents]:
        if p.exists():
            break
        missing = p
    return missing
