"""Patient-level split with the case study's proportions (250/74/45 of 369).

Counts: ``n_test = round(n * 0.1220)``, ``n_val = round(n * 0.2005)``, train = the rest (Python's
round, half to even). For 369 cases this gives exactly 250/74/45; for the 16-case sample 11/3/2.
Each split gets at least one case when there are three or more. The case ids are sorted, then
shuffled with ``numpy.random.default_rng(seed)``, so the split depends only on the ids and the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import read_json

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


def load_split(path: str | Path, case_ids: list[str]) -> dict:
    """Read and validate a user-given ``split.json``."""
    try:
        split = read_json(path)
    except FileNotFoundError:
        raise DataError(f"split file not found: {path}") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    return validate_split(split, case_ids, str(path))
