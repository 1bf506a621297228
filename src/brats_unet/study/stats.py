"""Paired per-case statistics for comparing variants: Wilcoxon signed-rank and bootstrap CIs.

With n paired cases the exact two-sided Wilcoxon test cannot go below p = 2 / 2**n (0.125 for 4 cases,
0.031 for 6): below 6 cases no difference can reach p < 0.05, and the report says so.

The smallest lead n paired cases resolve: with sd the standard deviation of the per-case differences, a true
mean difference of (z_.975 + z_.8) * sd / sqrt(n) = 2.80 * sd / sqrt(n) is found at two-sided alpha = .05 four
times in five (normal approximation); smaller leads are within the noise of these cases. Turned round, a lead
of size L needs (2.80 * sd / L)^2 paired cases (``cases_needed``): the figure to plan a study by.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def _finite(diff: np.ndarray) -> np.ndarray:
    """The paired differences as floats, without the NaN cases (a metric undefined for one of the pair)."""
    diff = np.asarray(diff, float)
    return diff[~np.isnan(diff)]


def min_p(n: int) -> float:
    """Smallest two-sided p-value an exact Wilcoxon signed-rank test can give with n non-zero pairs."""
    return min(1.0, 2.0 / 2**n) if n > 0 else 1.0


def wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (1.0 when all are zero, NaN if n = 0)."""
    diff = _finite(diff)
    if len(diff) == 0:
        return math.nan
    if not np.any(diff):
        return 1.0
    return float(stats.wilcoxon(diff).pvalue)


def bootstrap_ci(diff: np.ndarray, n_boot: int = 10000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean, resampling cases with replacement (seeded)."""
    diff = _finite(diff)
    if len(diff) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (n_boot, len(diff)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


Z_POWER = 1.959964 + 0.841621  # two-sided alpha = .05, power .8


def resolvable(diff: np.ndarray) -> float:
    """Smallest mean paired difference these cases detect with 80 % power at alpha = .05 (NaN below 2 cases)."""
    diff = _finite(diff)
    return float(Z_POWER * diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) >= 2 else math.nan


def cases_needed(diff: np.ndarray, lead: float) -> int | None:
    """Paired cases needed to resolve a true mean ``lead`` with the spread of these differences (80 % power, alpha .05).

    The inverse of :func:`resolvable`: n = ceil((2.80 * sd / lead)^2), the planning figure of a study that wants
    to show a lead of that size (None below 2 cases or for a lead that is not positive).
    """
    diff = _finite(diff)
    if len(diff) < 2 or not lead > 0:
        return None
    return max(2, math.ceil((Z_POWER * diff.std(ddof=1) / lead) ** 2))


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment of a family of p-values {name: p} (Holm 1979), controlling the chance of any
    false "significant" among them at alpha.

    Sorted ascending, the i-th of m p-values (from 0) becomes max over j <= i of min(1, (m - j) * p_j). A study
    compares many variants with one baseline (or with the best): unadjusted, one in twenty level variants would
    read as ahead or behind at p < .05. A p that could not be computed (NaN) counts as 1.
    """
    ps = {name: 1.0 if math.isnan(p) else p for name, p in pvalues.items()}
    adjusted, running, m = {}, 0.0, len(ps)
    for i, name in enumerate(sorted(ps, key=ps.__getitem__)):
        running = max(running, min(1.0, (m - i) * ps[name]))
        adjusted[name] = running
    return adjusted


def compare(values: dict[str, float], baseline: dict[str, float], lead: float | None = None) -> dict:
    """Paired comparison of per-case values {case: value} against the baseline's.

    With ``lead``, also the paired cases a true lead of that size would need at this spread (``cases_needed``).
    """
    cases = sorted(set(values) & set(baseline))
    diff = np.array([values[c] - baseline[c] for c in cases], float)
    lo, hi = bootstrap_ci(diff)
    n = int((~np.isnan(diff)).sum())
    return {"n": n, "mean_diff": float(np.nanmean(diff)) if n else math.nan, "ci_low": lo, "ci_high": hi,
            "p": wilcoxon_p(diff), "min_p": min_p(n), "too_few": min_p(n) > 0.05, "resolvable": resolvable(diff),
            "cases_needed": cases_needed(diff, lead) if lead else None}


def leaders(values: dict[str, dict[str, float]], higher_is_better: bool = True,
            alpha: float = 0.05) -> tuple[str, list[str]] | None:
    """The variant with the best mean over cases, and the others its paired cases cannot tell from it.

    ``values`` is {variant: {case: value}}. A variant is level with the best when the two-sided Wilcoxon p of the
    paired differences, Holm-adjusted over the other variants (:func:`holm`), is not below ``alpha`` (or cannot be
    computed): naming a single winner on a .001 lead, or on one of many comparisons, would present noise as a
    result. None when no variant has a finite mean.
    """
    means = {name: float(np.nanmean(list(v.values()))) for name, v in values.items()
             if np.isfinite(list(v.values())).any()}
    if not means:
        return None
    best = (max if higher_is_better else min)(means, key=lambda name: means[name])
    adjusted = holm({name: compare(values[name], values[best])["p"] for name in means if name != best})
    return best, [name for name in means if name != best and not adjusted[name] < alpha]
