"""Does a file's content match the modality it was given as? Intensity profiles measured on the training data.

A file's names can be right and its flags wrong (``--flair A_t1ce.nii.gz --t1ce A_flair.nii.gz`` with plain
names), and the model would still segment it, badly and silently. Each MR contrast has its own shape of
brain-intensity histogram (CSF bright on T2, dark on FLAIR; a long bright tail of vessels and enhancement on
T1ce), whatever the scanner's scale: the **profile** of a volume is 25 quantiles (2 %..98 %) of its brain
voxels, centred on the median and divided by the interquartile range. Preprocessing measures each case's profiles
(stored in the cache's ``meta.json``), and training stores, per modality of the run, the mean and sd of the
profiles of up to ``MAX_CASES`` training cases (``RUN/signatures.json``).

The rule (a warning, never a refusal): for every pair of given modalities a, b, the RMS distance (in sd units)
of each file to each stored profile is computed; if giving them the other way round fits at least
``SWAP_RATIO`` (1.2) times better than as given, the pair is reported as probably swapped. Chosen on the 30 real
cases of ``brats2018-sample`` and ``brats2018-extra`` leave-one-case-out: 0-3 % false alarms per pair on
correctly given files, and swapped pairs found 77 % (FLAIR/T1ce), 73 % (T1/T1ce), 90 % (FLAIR/T1) and 100 %
(any pair with T2) of the time. Single files are not classified on their own: per volume the profiles
tell the four modalities apart only 80 % of the time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .discovery import Case
from .volumes import background_value, read_array

QUANTILES = np.linspace(0.02, 0.98, 25)
MAX_CASES = 8  # training cases whose profiles make a run's signatures
SWAP_RATIO = 1.2
SD_FLOOR = 0.05  # profiles of very few training cases: no quantile counts as exact
STRIDE = 7  # every 7th brain voxel: the same subsample in preprocessing and at predict


def profile(vol: np.ndarray, background: float = 0.0, stride: int = 1) -> np.ndarray | None:
    """The (25,) scale-free intensity profile of a volume's brain (voxels unlike ``background``; every
    ``stride``-th of them, which moves no quantile measurably and costs a seventh at 7); None for a volume
    with too few brain voxels or no spread."""
    brain = vol[vol != background][::stride].astype(np.float64)
    if brain.size < 1000 // stride:
        return None
    q25, med, q75 = np.quantile(brain, [0.25, 0.5, 0.75])
    if q75 <= q25:
        return None
    return (np.quantile(brain, QUANTILES) - med) / (q75 - q25)


def summarise_profiles(profiles: Mapping[str, list[np.ndarray]]) -> dict[str, dict]:
    """{modality: {"mean": [25 floats], "sd": [25 floats], "cases": n}} for what ``RUN/signatures.json`` holds."""
    out = {}
    for name, found in profiles.items():
        if found:
            stack = np.stack(found)
            out[name] = {"mean": stack.mean(0).round(4).tolist(),
                         "sd": np.maximum(stack.std(0), SD_FLOOR).round(4).tolist(), "cases": len(found)}
    return out


def _distance(x: np.ndarray, signature: dict) -> float:
    mean, sd = np.asarray(signature["mean"]), np.asarray(signature["sd"])
    return float(np.sqrt((((x - mean) / sd) ** 2).mean()))


def swapped_pairs(profiles: Mapping[str, np.ndarray | None], signatures: Mapping[str, dict]) -> list[tuple[str, str]]:
    """Pairs (a, b) of given modalities whose files fit the other's signature ``SWAP_RATIO`` times better."""
    known = {m: p for m, p in profiles.items() if p is not None and m in signatures}
    found = []
    for a, b in itertools.combinations(sorted(known), 2):
        given = _distance(known[a], signatures[a]) + _distance(known[b], signatures[b])
        swapped = _distance(known[a], signatures[b]) + _distance(known[b], signatures[a])
        if given > SWAP_RATIO * swapped:
            found.append((a, b))
    return found


def read_profiles(case: Case) -> dict[str, np.ndarray | None]:
    """{modality: profile} of a case's image files (raw intensities, as the files hold them)."""
    out = {}
    for name, source in case.images.items():
        vol = read_array(source)
        out[name] = profile(vol, background_value(vol), STRIDE)
    return out


def cache_signatures(meta_of: Callable[[str], Any], case_ids: list[str]) -> dict[str, dict]:
    """The signatures of the first ``MAX_CASES`` of ``case_ids`` from the profiles preprocessing stored per case
    (``meta_of(case_id).profiles``: the cache's meta.json); empty when the cache predates them."""
    found: dict[str, list[np.ndarray]] = {}
    for cid in sorted(case_ids)[:MAX_CASES]:
        for name, p in meta_of(cid).profiles.items():
            found.setdefault(name, []).append(np.asarray(p, float))
    return summarise_profiles(found)


def swap_warnings(case: Case, signatures: Mapping[str, dict]) -> list[str]:
    """One ``warning:`` line per pair of the case's files that look swapped (empty without signatures)."""
    if not signatures:
        return []
    pairs = swapped_pairs(read_profiles(case), signatures)
    return [f"warning: {case.images[a].path} (given as {a}) and {case.images[b].path} (given as {b}) look swapped: "
            f"their intensity profiles match the training data's {b} and {a}; check the flags" for a, b in pairs]
