"""A study file: a base config, a shared budget, and a grid or list of named variants (dotted overrides).

Every variant trains on the same split with the same seed(s) and budget in ``STUDY/runs/<variant>/seed<k>``;
with ``folds: K`` (cross-validation, ``study/folds.py``) on every fold, in ``STUDY/runs/<variant>/fold<f>/seed<k>``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from ..config import Config, from_dict, parse_override, read_yaml, set_dotted
from ..errors import ConfigError, closest
from ..losses import check_loss_config
from ..runs.folder import read_split

STUDY_KEYS = ("name", "base", "budget", "seeds", "baseline", "variants", "grid", "evaluate", "description", "folds",
              "splits")


@dataclass(frozen=True)
class Variant:
    """One named set of dotted overrides."""

    name: str
    overrides: dict


@dataclass(frozen=True)
class Study:
    """A parsed study file."""

    name: str
    base: dict
    budget: dict
    seeds: tuple[int, ...]
    variants: tuple[Variant, ...]
    baseline: str
    split: str = "test"
    checkpoint: str = "last"
    folds: int = 0  # 0: one split for every variant; K >= 2: patient-level K-fold cross-validation
    splits: Optional[str] = None  # a given nnU-Net splits_final.json (its 'val' parts are the test folds)

    @property
    def fold_ids(self) -> tuple[Optional[int], ...]:
        """The folds every variant x seed trains on: ``(None,)`` without cross-validation."""
        return tuple(range(self.folds)) if self.folds else (None,)


def _pairs(mapping: dict, prefix: str = "") -> list[tuple[list[str], object]]:
    """{train: {max_minutes: 10}} or {"train.max_minutes": 10} -> [(["train", "max_minutes"], 10)].

    ``loss`` and ``loss.options`` values stay whole (a loss mapping is a value, not a section).
    """
    out = []
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in ("loss", "loss.options", "loss.terms"):
            out += _pairs(value, path + ".")
        else:
            out.append((path.split("."), value))
    return out


def _apply(raw: dict, mapping: dict) -> dict:
    raw = copy.deepcopy(raw)
    for path, value in _pairs(mapping):
        set_dotted(raw, path, value)
    return raw


def _base(value: Any, study_path: Path) -> dict:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    for root in (Path.cwd(), study_path.parent, study_path.parent.parent):
        if (root / value).exists():
            return read_yaml(root / value)
    raise ConfigError(f"{study_path}: base config '{value}' not found "
                      "(relative to the current folder or the study file)")


def _axis(key: str, values: Any) -> list[tuple[str, dict]]:
    """One grid axis as (label, overrides): a list of values for a config key, or a mapping
    {label: overrides} for settings that move together (e.g. a dropout rate and its placement)."""
    if isinstance(values, dict) and values:
        return [(str(label), dict(o or {})) for label, o in values.items()]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"grid.{key}: expected a non-empty list of values or a mapping of named overrides")
    return [(_short(v), {key: v}) for v in values]


def _grid_variants(grid: dict) -> list[Variant]:
    axes = [[(f"{k.split('.')[-1]}-{label}", o) for label, o in _axis(k, v)] for k, v in grid.items()]
    return [Variant("_".join(n for n, _ in combo), {k: v for _, o in combo for k, v in o.items()})
            for combo in itertools.product(*axes)]


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "+".join(map(str, value))
    return str(value).replace("/", "-").replace(" ", "")


def load_study(path: str | Path, overrides: Iterable[str] = ()) -> Study:
    """Parse and validate a study file; ``overrides`` (``key=value``) join the shared budget.

    Every variant's config is validated up front, so a typo fails before hours of training.
    """
    path = Path(path)
    raw = read_yaml(path)
    budget = dict(raw.get("budget") or {})
    for text in overrides:
        key, value = parse_override(text)
        budget[".".join(key)] = value
    unknown = [k for k in raw if k not in STUDY_KEYS]
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}'{closest(unknown[0], STUDY_KEYS)}; "
                          f"valid: {', '.join(STUDY_KEYS)}")
    if bool(raw.get("variants")) == bool(raw.get("grid")):
        raise ConfigError(f"{path}: give either 'variants' (a mapping of named overrides) or 'grid', "
                          "not both or neither")
    variants = _grid_variants(raw["grid"]) if raw.get("grid") else \
        [Variant(str(n), dict(o or {})) for n, o in raw["variants"].items()]
    names = [v.name for v in variants]
    baseline = str(raw.get("baseline", names[0]))
    if baseline not in names:
        raise ConfigError(f"{path}: baseline '{baseline}' is not a variant{closest(baseline, names)}")
    for name in names:
        _check_name(path, name)
    ev = raw.get("evaluate") or {}
    folds, splits = _folds(path, raw)
    study = Study(str(raw.get("name", path.stem)), _base(raw.get("base"), path), budget,
                  _seeds(path, raw.get("seeds", [0])), tuple(variants), baseline,
                  ev.get("split", "test"), ev.get("checkpoint", "last"), folds, splits)
    for v in study.variants:
        variant_config(study, v, study.seeds[0])
    return study


def only(study: Study, names: Iterable[str]) -> Study:
    """The study restricted to the named variants and its baseline (``brats-unet study --only``).

    Runs are found by their folders, so a restricted study trains and scores its variants beside the
    full study's in the same ``--out`` (one variant finished on every fold before the next starts), and
    its report compares them with the baseline only.
    """
    names = list(dict.fromkeys(names))
    known = [v.name for v in study.variants]
    for name in names:
        if name not in known:
            raise ConfigError(f"--only: '{name}' is not a variant of study '{study.name}'{closest(name, known)}; "
                              f"variants: {', '.join(known)}")
    keep = set(names) | {study.baseline}
    return replace(study, variants=tuple(v for v in study.variants if v.name in keep))


def _check_name(path: Path, name: str) -> None:
    """A variant name becomes a folder under STUDY/runs: no separators, no '..', nothing hidden."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or name != name.strip():
        raise ConfigError(f"{path}: variant name {name!r} cannot be a folder name (no '/', '\\', leading '.' "
                          "or surrounding spaces); rename it")


def _seeds(path: Path, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(s, int) and not isinstance(s, bool)
                                                           for s in value):
        raise ConfigError(f"{path}: seeds: expected a non-empty list of integers, e.g. [0, 1], got {value!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{path}: seeds: {value} repeats a seed; list each once")
    return tuple(value)


def _folds(path: Path, raw: dict) -> tuple[int, Optional[str]]:
    """``folds: K`` (K >= 2) and an optional ``splits:`` file (nnU-Net's splits_final.json, needs folds)."""
    folds, splits = raw.get("folds", 0), raw.get("splits")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds == 1 or folds < 0:
        raise ConfigError(f"{path}: folds: expected an integer >= 2 (K-fold cross-validation) or 0 (one split), "
                          f"got {folds!r}")
    if splits is not None and not folds:
        raise ConfigError(f"{path}: splits: a splits_final.json needs 'folds: K' (its number of folds)")
    if splits is not None:
        found = [r / str(splits) for r in (Path.cwd(), path.parent) if (r / str(splits)).is_file()]
        if not found:
            raise ConfigError(f"{path}: splits file '{splits}' not found (relative to the current folder or the "
                              "study file)")
        splits = str(found[0].resolve())
    return folds, splits


def variant_config(study: Study, variant: Variant, seed: int, split_file: Optional[Path] = None) -> Config:
    """The validated Config of one variant and seed: base <- budget <- variant overrides <- seed (<- the fold's
    split file, for cross-validation)."""
    raw = _apply(_apply(study.base, study.budget), variant.overrides)
    set_dotted(raw, ["train", "seed"], seed)
    if split_file is not None:
        set_dotted(raw, ["data", "split_file"], str(split_file))
        set_dotted(raw, ["data", "fold"], None)
    try:
        cfg = from_dict(raw)
        check_loss_config(cfg.loss)
        return cfg
    except ConfigError as exc:
        raise ConfigError(f"study {study.name}, variant {variant.name}: {exc}") from None


def run_dir(out: Path, variant: Variant, seed: int, fold: Optional[int] = None) -> Path:
    """Where a variant/seed (on a cross-validation fold) trains."""
    base = out / "runs" / variant.name
    return (base if fold is None else base / f"fold{fold}") / f"seed{seed}"


def stored_split(out: Path, study: Study, fold: Optional[int] = None) -> dict:
    """The split the first variant trained on (all variants share it), of ``fold`` in a cross-validation."""
    return read_split(run_dir(out, study.variants[0], study.seeds[0], fold))
