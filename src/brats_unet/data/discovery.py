"""Find cases under a root folder, whichever BraTS release layout it uses.

Supported layouts (files may be ``.nii`` or ``.nii.gz``):

* BraTS 2018-2020: ``<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz`` (BraTS2020 training case 355 ships
  its segmentation as ``W39_1998.09.19_Segm.nii``: any ``*Segm.nii*`` counts as the seg).
* BraTS 2021: ``BraTS2021_NNNNN/BraTS2021_NNNNN_{flair,t1,t1ce,t2,seg}.nii.gz`` (same label codes).
* BraTS 2023+: ``BraTS-GLI-NNNNN-NNN/BraTS-GLI-NNNNN-NNN-{t2f,t1n,t1c,t2w,seg}.nii.gz`` (ET is label 3).
* MSD Task01_BrainTumour: ``imagesTr/BRATS_NNN.nii.gz`` 4D (FLAIR, T1w, T1gd, T2w) and ``labelsTr/``.

A root may also be a single case folder. Cases without a segmentation are kept (for prediction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..brats import DASH_TOKENS, MSD_CHANNELS, REFERENCE_ORDER, UNDERSCORE_TOKENS, LabelScheme, get_scheme
from ..errors import DataError


@dataclass(frozen=True)
class Source:
    """One image on disk; ``channel`` selects a volume of a 4D file (MSD)."""

    path: Path
    channel: Optional[int] = None


@dataclass(frozen=True)
class Case:
    """One patient: modality sources, optional segmentation, and the edition it came from."""

    case_id: str
    edition: str  # brats2020 | brats2021 | brats2023 | msd
    images: dict[str, Source] = field(default_factory=dict)
    seg: Optional[Source] = None

    @property
    def scheme(self) -> LabelScheme:
        """The label scheme of this case's edition."""
        return get_scheme(self.edition)

    @property
    def reference(self) -> Path:
        """A file whose geometry (shape, affine, header) predictions must copy."""
        for name in REFERENCE_ORDER:
            if name in self.images:
                return self.images[name].path
        raise DataError(f"case {self.case_id}: no image found")


def is_nifti(path: Path) -> bool:
    """True for visible ``.nii`` / ``.nii.gz`` files (MSD archives carry ``._*`` junk files)."""
    return path.is_file() and not path.name.startswith(".") and path.name.endswith((".nii", ".nii.gz"))


def nifti_stem(path: Path) -> str:
    """File name without ``.nii`` / ``.nii.gz``."""
    name = path.name
    return name[: -len(".nii.gz")] if name.endswith(".nii.gz") else name[: -len(".nii")]


def _classify(path: Path) -> tuple[str, str, str] | None:
    """Return (case_id, kind, edition) for a file name, or None if it is no known modality."""
    stem = nifti_stem(path)
    if stem.lower().endswith("segm"):  # BraTS2020 case 355: W39_1998.09.19_Segm.nii
        return "", "seg", "brats2020"
    head, _, token = stem.rpartition("-")
    if head and token.lower() in DASH_TOKENS and stem.startswith("BraTS-"):
        return head, DASH_TOKENS[token.lower()], "brats2023"
    head, _, token = stem.rpartition("_")
    if head and token.lower() in UNDERSCORE_TOKENS:
        edition = "brats2021" if head.startswith("BraTS2021") else "brats2020"
        return head, UNDERSCORE_TOKENS[token.lower()], edition
    return None


def case_from_folder(folder: Path) -> Case | None:
    """Build a Case from a folder of per-modality files, or None if it holds no known modality."""
    images: dict[str, Source] = {}
    seg, case_id, edition = None, None, None
    for path in sorted(p for p in folder.iterdir() if is_nifti(p)):
        found = _classify(path)
        if found is None:
            continue
        cid, kind, ed = found
        if kind == "seg":
            seg = Source(path)
        else:
            images[kind] = Source(path)
            case_id, edition = cid, ed
        edition = edition or ed
    if not images and seg is None:
        return None
    return Case(case_id or folder.name, edition or "brats2020", images, seg)


def _msd_cases(root: Path) -> list[Case]:
    cases = []
    for sub in ("imagesTr", "imagesTs"):
        for path in sorted(p for p in (root / sub).glob("*.nii*") if is_nifti(p)):
            cid = nifti_stem(path)
            label = next((p for p in (root / "labelsTr").glob(cid + ".nii*") if is_nifti(p)), None)
            images = {m: Source(path, ch) for m, ch in MSD_CHANNELS.items()}
            cases.append(Case(cid, "msd", images, Source(label) if label else None))
    return cases


def discover_cases(root: str | Path) -> list[Case]:
    """All cases under ``root`` (or ``root`` itself as one case), sorted by case id.

    Raises:
        DataError: the folder does not exist or holds no recognisable case.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    if (root / "imagesTr").is_dir() or (root / "imagesTs").is_dir():
        cases = _msd_cases(root)
    elif (single := case_from_folder(root)) is not None:
        cases = [single]
    else:
        cases = [c for d in sorted(root.iterdir()) if d.is_dir() and (c := case_from_folder(d))]
    if not cases:
        raise DataError(f"{root}: no BraTS cases found (expected <case>/<case>_flair.nii.gz, "
                        "BraTS-GLI-*-t2f.nii.gz or MSD imagesTr/)")
    return sorted(cases, key=lambda c: c.case_id)


def case_from_files(files: dict[str, str | Path], case_id: str | None = None) -> Case:
    """A Case from explicit files, e.g. ``{"flair": "a.nii.gz", "t1ce": "b.nii.gz"}``."""
    images = {k: Source(Path(v)) for k, v in files.items() if v and k != "seg"}
    if not images:
        raise DataError("no input files given: pass at least --flair/--t1ce as the model needs")
    first = Path(next(iter(images.values())).path)
    cid = case_id or (_classify(first) or (nifti_stem(first),))[0] or nifti_stem(first)
    seg = Source(Path(files["seg"])) if files.get("seg") else None
    return Case(cid, "brats2020", images, seg)
