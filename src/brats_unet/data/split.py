"""Patient-level split with the case study's proportions (250/74/45 of 369).

Counts: ``n_test = round(n * 0.1220)``, ``n_val = round(n * 0.2005)``, train = the rest (Python's
round, half to even). For 369 cases this gives exactly 250/74/45; for the 16-case sample 11/3/2.
Each split gets at least one case when there are three or more. The case ids are sorted, then
shuffled with ``numpy.random.default_rng(seed)``, so the split depends only on the ids and the seed.

Cross-validation (``data.fold``): the test cases of that split are held out, the others are cut into
``data.folds`` folds (sizes differing by at most one); fold K validates on its part and trains on the rest.
The folds are written as nnU-Net's ``splits_final.json`` (a list of ``{"train": [...], "val": [...]}``, one
per fold) and such a file is read back: there, the test cases are those found in no fold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..atomic_files import read_json
from ..errors import DataError

SPLITS = ("train", "val", "test")


def split_counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """(train, val, test) counts for ``n`` cases."""
    n_test, n_val = round(n * fractions[2]), round(n * fractions[1])
    if n >= 3:
        n_test = max(n_test, 1) if fractions[2] > 0 else 0
        n_val = max(n_val, 1) if fractions[1] > 0 else 0
    n_train = n - n_val - n_test
    if n_train < 1:
        raise DataError(f"{n} cases are too few to split with fractions {list(fractions)}")
    return n_train, n_val, n_test


def make_split(case_ids: list[str], fractions: tuple[float, float, float], seed: int) -> dict:
    """A seeded patient-level split: {"seed", "train", "val", "test"}."""
    ids = sorted(case_ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    shuffled = [ids[i] for i in order]
    n_train, n_val, _ = split_counts(len(ids), fractions)
    parts = shuffled[:n_train], shuffled[n_train : n_train + n_val], shuffled[n_train + n_val :]
    return {"seed": seed, **{name: sorted(p) for name, p in zip(SPLITS, parts)}}


def make_folds(case_ids: list[str], n_folds: int, seed: int) -> list[dict]:
    """nnU-Net's ``splits_final.json`` content: ``n_folds`` dicts {"train", "val"}, val parts disjoint."""
    if len(case_ids) < n_folds:
        raise DataError(f"{len(case_ids)} cases are too few for {n_folds} folds; lower data.folds")
    ids = sorted(case_ids)
    shuffled = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    parts = [sorted(p.tolist()) for p in np.array_split(np.array(shuffled, dtype=object), n_folds)]
    return [{"train": sorted(c for q in parts if q is not p for c in q), "val": p} for p in parts]


def fold_split(case_ids: list[str], fractions: tuple[float, float, float], seed: int, fold: int,
               n_folds: int) -> tuple[dict, list[dict]]:
    """(fold ``fold``'s split {"seed", "fold", "train", "val", "test"}, all folds): the plain split's test
    cases held out, the rest folded."""
    test = make_split(case_ids, fractions, seed)["test"]
    folds = make_folds([c for c in case_ids if c not in set(test)], n_folds, seed)
    return pick_fold(folds, fold, case_ids, "folds", seed), folds


def pick_fold(folds: list, fold: int, case_ids: list[str], source: str, seed: int = 0) -> dict:
    """Fold ``fold`` of nnU-Net-style ``folds`` as a split; test = the cases in no fold."""
    if not all(isinstance(f, dict) and isinstance(f.get("train"), list) and isinstance(f.get("val"), list)
               for f in folds):
        raise DataError(f"{source}: each fold needs lists 'train' and 'val' (nnU-Net's splits_final.json)")
    if not 0 <= fold < len(folds):
        raise DataError(f"{source}: holds {len(folds)} folds, so data.fold={fold} does not exist; "
                        f"use 0..{len(folds) - 1}")
    folded = {c for f in folds for part in ("train", "val") for c in f[part]}
    split = {"seed": seed, "fold": fold, "train": sorted(folds[fold]["train"]), "val": sorted(folds[fold]["val"]),
             "test": sorted(c for c in case_ids if c not in folded)}
    return validate_split(split, case_ids, f"{source} (fold {fold})")


def validate_split(split: dict, case_ids: list[str], source: str = "split") -> dict:
    """Check a split: three lists, no patient in two splits, every id known."""
    missing = [s for s in SPLITS if not isinstance(split.get(s), list)]
    if missing:
        raise DataError(f"{source}: needs lists {', '.join(SPLITS)}; missing {', '.join(missing)}")
    seen: dict[str, str] = {}
    for name in SPLITS:
        for cid in split[name]:
            if cid in seen:
                raise DataError(f"{source}: case {cid} is in both '{seen[cid]}' and '{name}'")
            seen[cid] = name
    unknown = sorted(set(seen) - set(case_ids))
    if unknown:
        raise DataError(f"{source}: unknown case ids {unknown[:5]} (not found under the data folder)")
    if not split["train"]:
        raise DataError(f"{source}: the 'train' list is empty; put at least one case in it")
    return split


def load_split(path: str | Path, case_ids: list[str], fold: Optional[int] = None) -> tuple[dict, Optional[list]]:
    """Read and validate a user-given ``split.json``, or fold ``fold`` of an nnU-Net ``splits_final.json``.

    Returns (the split, the folds when the file holds folds, else None).
    """
    try:
        data = read_json(path)
    except FileNotFoundError:
        raise DataError(f"split file not found: {path}") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, list):
        if fold is None:
            raise DataError(f"{path}: holds {len(data)} cross-validation folds (nnU-Net's splits_final.json); "
                            "choose one with --fold K (data.fold)")
        return pick_fold(data, fold, case_ids, str(path)), data
    if fold is not None:
        raise DataError(f"{path}: a single split, not folds; data.fold needs a splits_final.json (a list of "
                        "{train, val}) or no data.split_file")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping with lists train, val, test")
    return validate_split(data, case_ids, str(path)), None
