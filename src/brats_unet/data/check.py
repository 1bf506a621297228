"""``brats-unet check``: validate every case and list all problems at once."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..brats import MODALITIES, LabelScheme, get_scheme
from ..errors import DataError
from .discovery import Case, Source, scan_cases
from .volumes import grid_problem, open_image, read_array, refuse_label_map

MIN_VOLUME_ML = 1.0  # below this a volume cannot hold a brain (an adult brain is about 1,200 ml; BraTS grids 8,900 ml)


def _check_volume(source: Source, kind: str, scheme: LabelScheme) -> tuple[list[str], tuple | None, np.ndarray | None]:
    """Problems with one file, plus its shape and affine when readable."""
    try:
        affine = open_image(source).affine
        data = read_array(source)
    except DataError as exc:
        return [str(exc)], None, None
    problems = []
    if kind == "seg":
        problem = scheme.label_problem(data)
        if problem:
            problems.append(f"{source.path}: {problem}")
    else:
        ml = float(np.prod(data.shape)) * float(np.prod(open_image(source).header.get_zooms()[:3])) / 1000
        if ml < MIN_VOLUME_ML:
            problems.append(f"{source.path}: shape {data.shape} spans {ml:.3g} ml, too small to hold a brain "
                            "(a BraTS volume is 240 x 240 x 155 voxels of 1 mm, 8,900 ml)")
        try:
            refuse_label_map(data, source)
        except DataError as exc:
            problems.append(str(exc))
        if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
            problems.append(f"{source.path}: {int((~np.isfinite(data)).sum())} non-finite voxels")
        if not np.any(data):
            problems.append(f"{source.path}: all voxels are zero")
    return problems, data.shape, affine


def check_case(case: Case, scheme_name: str = "auto") -> list[str]:
    """All problems found in one case, one line each naming the file."""
    scheme = case.scheme if scheme_name == "auto" else get_scheme(scheme_name)
    problems = [f"case {case.case_id}: modality '{m}' missing" for m in MODALITIES if m not in case.images]
    geometry: dict[str, tuple] = {}
    entries = [(m, s) for m, s in case.images.items()] + ([("seg", case.seg)] if case.seg else [])
    for kind, source in entries:
        found, shape, affine = _check_volume(source, kind, scheme)
        problems += found
        if shape is not None:
            geometry[kind] = (source, shape, affine)
    return problems + _geometry_problems(geometry)


def _geometry_problems(geometry: dict[str, tuple]) -> list[str]:
    """Shape and affine disagreements against the first readable volume."""
    if not geometry:
        return []
    ref = next(iter(geometry.values()))
    found = (grid_problem(source, shape, affine, *ref) for source, shape, affine in list(geometry.values())[1:])
    return [problem for problem in found if problem is not None]


def check_dataset(root: str | Path, scheme_name: str = "auto", workers: int = 2) -> tuple[int, list[str]]:
    """Check every case under ``root`` in parallel; return (number of cases, all problems)."""
    cases, problems = scan_cases(root)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(check_case, cases, [scheme_name] * len(cases)))
    return len(cases) + len(problems), problems + [p for r in results for p in r]
