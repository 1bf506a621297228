"""Intensity profiles against the flags: swapped explicit files are flagged on real cases, correct ones are not."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest

from brats_unet.data.discovery import case_from_files, discover_cases
from brats_unet.data.signatures import (
    SWAP_RATIO,
    profile,
    read_profiles,
    summarise_profiles,
    swap_warnings,
    swapped_pairs,
)
from brats_unet.runs.folder import read_split


def test_profile_is_scale_free_and_ignores_background():
    rng = np.random.default_rng(0)
    vol = np.zeros((50, 50, 50))
    vol[2:48, 2:48, 2:48] = rng.gamma(3.0, 100.0, (46, 46, 46))
    p = profile(vol)
    assert p is not None and p.shape == (25,)
    np.testing.assert_allclose(profile(vol * 7.5), p, atol=1e-9)  # another scanner scale, the same profile
    assert np.abs(profile(vol, stride=7) - p).max() < 0.15  # the subsample preprocessing stores
    assert profile(np.zeros((20, 20, 20))) is None


def test_a_pair_is_flagged_only_when_the_other_way_round_fits_clearly_better():
    a, b = np.zeros(25), np.ones(25)
    sig = summarise_profiles({"flair": [a, a + 0.1], "t2": [b, b - 0.1]})
    assert swapped_pairs({"flair": a, "t2": b}, sig) == []
    assert swapped_pairs({"flair": b, "t2": a}, sig) == [("flair", "t2")]
    halfway = (a + b) / 2  # equally far from both: no evidence, no warning
    assert swapped_pairs({"flair": halfway, "t2": halfway}, sig) == []
    assert SWAP_RATIO > 1


@pytest.mark.slow
def test_swapped_real_cases_are_flagged_and_correct_ones_are_not(sample_dir):
    """Signatures from 4 sample cases; the 12 others given correctly and with each pair swapped. Measured when
    written: 1 false alarm in 72 correct pairs; FLAIR/T2, T1/T2, T1ce/T2 swaps found 10-12 of 12 times,
    FLAIR/T1ce 9 of 12."""
    cases = discover_cases(sample_dir)
    ids = sorted(c.case_id for c in cases)
    found: dict = {}
    for case in (c for c in cases if c.case_id in ids[:4]):
        for name, p in read_profiles(case).items():
            found.setdefault(name, []).append(p)
    sig = summarise_profiles(found)
    assert set(sig) == {"flair", "t1", "t1ce", "t2"} and sig["flair"]["cases"] == 4
    alarms = found = 0
    for case in (c for c in cases if c.case_id not in ids[:4]):
        prof = read_profiles(case)
        for a, b in itertools.combinations(sorted(prof), 2):
            alarms += bool(swapped_pairs({a: prof[a], b: prof[b]}, sig))
            found += bool(swapped_pairs({a: prof[b], b: prof[a]}, sig))
    assert alarms <= 3 and found >= 0.75 * 72, (alarms, found)


@pytest.mark.slow
def test_predict_warns_about_swapped_files_with_plain_names(sample_run, sample_dir, run_cli, tmp_path):
    """The run stores its modalities' signatures; a case whose FLAIR and T1ce, given the other way round with
    plain names, the rule flags (about 3 cases in 4 on the sample) gets the warning from predict, and the same
    files given rightly do not."""
    sig = json.loads((sample_run / "signatures.json").read_text())
    assert set(sig) == {"flair", "t1ce"}
    unseen = [c for c in discover_cases(sample_dir) if c.case_id not in read_split(sample_run)["train"]]
    flagged = [c for c in unseen if (p := read_profiles(c))
               and swapped_pairs({"flair": p["t1ce"], "t1ce": p["flair"]}, sig)
               and not swapped_pairs({"flair": p["flair"], "t1ce": p["t1ce"]}, sig)]
    assert len(flagged) >= len(unseen) // 2, [c.case_id for c in flagged]
    case = flagged[0]
    a, b = tmp_path / "a.nii.gz", tmp_path / "b.nii.gz"
    shutil.copyfile(case.images["t1ce"].path, a)  # T1ce given as FLAIR, FLAIR as T1ce, names that say nothing
    shutil.copyfile(case.images["flair"].path, b)
    assert swap_warnings(case_from_files({"flair": a, "t1ce": b}), {}) == []  # no signatures: no opinion
    swapped = run_cli("predict", sample_run, "--flair", a, "--t1ce", b, "--out", tmp_path / "p")
    assert swapped.code == 0 and "look swapped" in swapped.err and "a.nii.gz (given as flair)" in swapped.err
    right = run_cli("predict", sample_run, "--flair", b, "--t1ce", a, "--out", tmp_path / "q")
    assert right.code == 0 and "look swapped" not in right.err
