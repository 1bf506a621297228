"""Several dataset roots as one: a folder of links to every case folder (as nnU-Net's raw dataset folder).

``brats-unet study --data A --data B`` trains and tests on the cases of both roots. Rather than teach every
reader (cache, run folder, evaluate, report) about lists of roots, the study makes ``STUDY/data/`` holding one
link per case, ``<case_id> -> <root>/<case folder>``, and uses that folder as its one root. The links point at
the user's files; nothing is copied. Case ids must be unique across the roots.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from .discovery import discover_cases


def case_folder(case_id: str, files: list[Path], root: Path) -> Path:
    """The one folder that holds all of a case's files (DataError for layouts without one, e.g. MSD)."""
    folders = {p.parent for p in files}
    if len(folders) != 1 or next(iter(folders)).resolve() == root.resolve():
        raise DataError(f"{root}: case {case_id} has no folder of its own (MSD imagesTr/ or loose files); several "
                        "--data roots need one folder per case (<case>/<case>_flair.nii.gz)")
    return next(iter(folders))


def union_root(roots: list[str | Path], dest: str | Path) -> Path:
    """``dest`` holding a link per case of ``roots`` (one root is returned unchanged); returns the root to use.

    Raises:
        DataError: a case id found under two roots, or a root without per-case folders.
    """
    if len(roots) == 1:
        return Path(roots[0])
    dest = Path(dest)
    where: dict[str, Path] = {}
    links: dict[str, Path] = {}
    for root in map(Path, roots):
        for case in discover_cases(root):
            if case.case_id in where:
                raise DataError(f"case id '{case.case_id}' is under both {where[case.case_id]} and {root}; case ids "
                                "must be unique across --data roots (remove or rename one)")
            files = [s.path for s in case.images.values()] + ([case.seg.path] if case.seg else [])
            where[case.case_id], links[case.case_id] = root, case_folder(case.case_id, files, root).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    for entry in dest.iterdir():  # links left by an earlier, different set of roots
        if entry.is_symlink() and entry.name not in links:
            entry.unlink()
    for cid, target in links.items():
        link = dest / cid
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise DataError(f"{link} exists and is not a link made by brats-unet; remove it or choose another --out")
        try:
            link.symlink_to(target, target_is_directory=True)
        except FileExistsError:  # another process of the same study (torchrun) made it first
            if Path(os.readlink(link)) != target:
                raise
    return dest
