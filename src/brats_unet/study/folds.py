"""Cross-validation for a study (``folds: K``): one patient-level partition shared by every variant and seed.

The partition is nnU-Net's ``splits_final.json`` (a list of ``{"train": [...], "val": [...]}``, one per fold,
the ``val`` parts disjoint and covering every case), written to ``STUDY/splits_final.json`` on the first run and
only read afterwards, so a resumed or extended study keeps its folds; a study file may give its own with
``splits:``. In a study, fold K's ``val`` part is its *test* set (each case is tested exactly once, pooled over
folds in the report); the model of fold K monitors training and chooses post-processing on a few cases drawn
from its training part (10 %, at least one), never on its test cases. Each fold's split is written to
``STUDY/splits/fold<K>.json`` and handed to training as ``data.split_file``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic_files import read_json, write_json
from ..data.discovery import discover_cases
from ..data.split import make_folds, validate_split
from ..errors import DataError
from .spec import Study

VAL_FRACTION = 0.1  # of a fold's training part, held out for monitoring and the post-processing choice
FOLD_SEED = 0  # the partition depends on the case ids only (as nnU-Net's, which seeds 12345)


def labelled_ids(data: str | Path) -> list[str]:
    """Ids of the cases under ``data`` that carry a segmentation (only those can be trained or scored)."""
    return sorted(c.case_id for c in discover_cases(data) if c.seg is not None)


def check_folds(folds: object, case_ids: list[str], k: int, source: str) -> list[dict]:
    """A splits_final.json content for ``k`` folds whose ``val`` parts partition ``case_ids``."""
    if not isinstance(folds, list) or not all(isinstance(f, dict) and isinstance(f.get("train"), list)
                                              and isinstance(f.get("val"), list) for f in folds):
        raise DataError(f"{source}: expected nnU-Net's splits_final.json, a list of {{train: [...], val: [...]}}")
    if len(folds) != k:
        raise DataError(f"{source}: holds {len(folds)} folds but the study says folds: {k}; make them agree")
    tested = [c for f in folds for c in f["val"]]
    twice = sorted({c for c in tested if tested.count(c) > 1})
    if twice:
        raise DataError(f"{source}: case {twice[0]} is in the 'val' part of two folds; each case is tested once")
    unknown, untested = sorted(set(tested) - set(case_ids)), sorted(set(case_ids) - set(tested))
    if unknown:
        raise DataError(f"{source}: unknown case ids {unknown[:5]} (not found under --data)")
    if untested:
        raise DataError(f"{source}: cases {untested[:5]} are in no fold's 'val' part; a cross-validation tests "
                        "every labelled case once (remove the cases from --data or from the file)")
    for i, f in enumerate(folds):
        if set(f["train"]) & set(f["val"]) or set(f["train"]) | set(f["val"]) != set(case_ids):
            raise DataError(f"{source}: fold {i}'s train part must hold exactly the cases not in its val part")
    return folds


def study_folds(study: Study, data: str | Path, out: Path) -> list[dict]:
    """The study's partition: ``STUDY/splits_final.json`` if written before, else the study's ``splits:`` file,
    else a new seeded one (then written)."""
    ids = labelled_ids(data)
    path = out / "splits_final.json"
    if path.exists():
        return check_folds(read_json(path), ids, study.folds, str(path))
    if study.splits:
        folds = check_folds(read_json(study.splits), ids, study.folds, study.splits)
    else:
        folds = make_folds(ids, study.folds, FOLD_SEED)
    write_json(path, folds)
    return folds


def fold_split(folds: list[dict], fold: int) -> dict:
    """Fold ``fold`` as a split {"seed", "fold", "train", "val", "test"}: test = the fold's held-out part,
    val = a seeded 10 % (at least one case) of the rest."""
    pool: list[str] = sorted(folds[fold]["train"])
    n_val = max(1, round(VAL_FRACTION * len(pool)))
    if len(pool) <= n_val:
        raise DataError(f"fold {fold}: {len(pool)} training cases are too few to hold out a validation case; "
                        "give more cases or fewer folds")
    pick = set(np.random.default_rng(FOLD_SEED + fold).choice(len(pool), n_val, replace=False).tolist())
    split = {"seed": FOLD_SEED, "fold": fold, "train": [c for i, c in enumerate(pool) if i not in pick],
             "val": [c for i, c in enumerate(pool) if i in pick], "test": sorted(folds[fold]["val"])}
    return validate_split(split, pool + list(folds[fold]["val"]), f"fold {fold}")


def write_fold_splits(folds: list[dict], out: Path) -> list[Path]:
    """``STUDY/splits/fold<K>.json`` for every fold (rewritten with the same content on every run)."""
    paths = []
    for k in range(len(folds)):
        path = out / "splits" / f"fold{k}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, fold_split(folds, k))
        paths.append(path.resolve())
    return paths
