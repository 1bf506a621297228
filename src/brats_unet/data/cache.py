"""The preprocessed-slice cache: one folder per preprocessing config, one sub-folder per case.

``<cache_root>/<key>/<case_id>/{image.npy, seg.npy, meta.json}``; ``key`` hashes the preprocessing
fields, the spatial multiple (crop/native) and the data root, so a changed config builds a new cache.
Each case is written into a hidden temporary folder and renamed into place, so an interrupted build
never leaves a half-written case.
Arrays are memory-mapped on read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Optional

import numpy as np

from ..atomic_files import STALE_S, make_folder, read_json, remove_stale_temps, temp_folder, write_json
from ..config import DEFAULT_MULTIPLE, DataConfig
from ..errors import DataError, write_error
from .discovery import Case, discover_cases
from .preprocess import CaseMeta, preprocess_case

PREPROCESS_VERSION = 3  # 2: brain = voxels unlike the border value (was: non-zero); 3: meta.json holds profiles
KEY_FIELDS = ("modalities", "slices", "size", "mode", "normalize", "labels")


def default_cache_root() -> Path:
    """``$BRATS_UNET_CACHE`` or ``~/.cache/brats-unet``."""
    return Path(os.environ.get("BRATS_UNET_CACHE", Path.home() / ".cache" / "brats-unet"))


def _key_fields(cfg: DataConfig, multiple: int) -> dict:
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k in KEY_FIELDS}
    if cfg.mode != "resize" and multiple != DEFAULT_MULTIPLE:  # the default keeps the keys caches were built with
        fields["multiple"] = multiple
    if cfg.nonfinite != "error":
        fields["nonfinite"] = cfg.nonfinite
    return fields


def cache_key(cfg: DataConfig, data_root: str | Path, multiple: int = DEFAULT_MULTIPLE) -> str:
    """Short hash of the preprocessing fields, the preprocessing version and the data root."""
    fields = _key_fields(cfg, multiple)
    blob = json.dumps({"v": PREPROCESS_VERSION, "root": str(Path(data_root).resolve()), **fields}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class SliceCache:
    """Read access to a built cache folder."""

    def __init__(self, path: Path, case_ids: list[str]):
        self.path = Path(path)
        self.case_ids = list(case_ids)

    def meta(self, case_id: str) -> CaseMeta:
        """The case's preprocessing metadata (shape, box, slices, tumour slices...)."""
        return CaseMeta.from_json(read_json(self.path / case_id / "meta.json"))

    def image(self, case_id: str) -> np.ndarray:
        """Memory-mapped image, (C, S, H, W) float16."""
        return np.load(self.path / case_id / "image.npy", mmap_mode="r")

    def seg(self, case_id: str) -> np.ndarray:
        """Memory-mapped labels, (S, H, W) uint8 internal codes."""
        path = self.path / case_id / "seg.npy"
        if not path.exists():
            raise DataError(f"case {case_id} has no segmentation; it can be predicted but not trained on")
        return np.load(path, mmap_mode="r")


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core; torch threads would oversubscribe


def build_case(case: Case, cfg: DataConfig, dest: Path, multiple: int = DEFAULT_MULTIPLE) -> str:
    """Preprocess one case into ``dest/<case_id>`` atomically (temp folder + rename).

    Several processes may build one cache at once (a study under torchrun, colleagues sharing a cache):
    whoever renames first wins, and a loser finding a finished case keeps it (the content is the same).
    """
    prepared = preprocess_case(case, cfg, multiple=multiple)
    tmp: Path | None = None
    try:
        tmp = temp_folder(dest, case.case_id)
        np.save(tmp / "image.npy", prepared.image)
        if prepared.seg is not None:
            np.save(tmp / "seg.npy", prepared.seg)
        write_json(tmp / "meta.json", prepared.meta.to_json())
        try:
            os.replace(tmp, dest / case.case_id)
        except OSError:
            if not (dest / case.case_id / "meta.json").exists():
                raise
    except OSError as exc:
        raise write_error(dest / case.case_id, exc) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return case.case_id


def select_cases(data_root: str | Path, cfg: DataConfig) -> list[Case]:
    """Cases under the root, limited to the first ``data.max_cases``."""
    cases = discover_cases(data_root)
    return cases[: cfg.max_cases] if cfg.max_cases else cases


def prepare_cache(data_root: str | Path, cfg: DataConfig, cache_root: str | Path | None = None,
                  workers: int = 2, progress: bool = True, multiple: int = DEFAULT_MULTIPLE,
                  only: Optional[set[str]] = None) -> SliceCache:
    """Build (or reuse) the cache for ``cfg`` over the cases of ``data_root``; return a reader.

    ``multiple`` (``2**model.depth``) is what crop/native boxes are padded to; ``only`` limits the cases
    built (and readable) to those ids, e.g. one split.
    """
    cases = [c for c in select_cases(data_root, cfg) if only is None or c.case_id in only]
    root = Path(cache_root or cfg.cache_dir or default_cache_root()) / cache_key(cfg, data_root, multiple)
    make_folder(root)
    remove_stale_temps(root, older_than_s=STALE_S)
    write_json(root / "config.json", _key_fields(cfg, multiple)
               | {"data_root": str(Path(data_root).resolve()), "version": PREPROCESS_VERSION})
    todo = [c for c in cases if not (root / c.case_id / "meta.json").exists()]
    _build_all(todo, cfg, root, workers, progress, multiple)
    return SliceCache(root, [c.case_id for c in cases])


def _build_all(todo: list[Case], cfg: DataConfig, root: Path, workers: int, progress: bool, multiple: int) -> None:
    if not todo:
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc="prepare", unit="case", disable=not progress)
    try:  # the bar is closed before an error is printed, so the error gets a line of its own
        if workers <= 1:
            for case in todo:
                build_case(case, cfg, root, multiple)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
                for fut in as_completed([pool.submit(build_case, c, cfg, root, multiple) for c in todo]):
                    fut.result()
                    bar.update()
    finally:
        bar.close()
