"""Find cases under a root folder, whichever BraTS release layout it uses.

Supported layouts (files may be ``.nii`` or ``.nii.gz``):

* BraTS 2018-2020: ``<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz`` (BraTS2020 training case 355 ships
  its segmentation as ``W39_1998.09.19_Segm.nii``: any ``*Segm.nii*`` counts as the seg).
* BraTS 2021: ``BraTS2021_NNNNN/BraTS2021_NNNNN_{flair,t1,t1ce,t2,seg}.nii.gz`` (same label codes).
* BraTS 2023+: ``BraTS-GLI-NNNNN-NNN/BraTS-GLI-NNNNN-NNN-{t2f,t1n,t1c,t2w,seg}.nii.gz`` (ET is label 3).
* MSD Task01_BrainTumour: ``imagesTr/BRATS_NNN.nii.gz`` 4D (FLAIR, T1w, T1gd, T2w) and ``labelsTr/``.

Case folders may be grouped one level deep, as the BraTS 2018-2019 downloads group them by grade
(``MICCAI_BraTS_2018_Data_Training/HGG/<case>/...``, ``.../LGG/<case>/...``).

A root may also be a single case folder. Cases without a segmentation are kept (for prediction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..brats import DASH_TOKENS, MSD_CHANNELS, REFERENCE_ORDER, UNDERSCORE_TOKENS, LabelScheme, get_scheme
from ..errors import DataError


@dataclass(frozen=True)
class Source:
    """One image on disk; ``channel`` selects a volume of a 4D file (MSD).

    ``image`` holds an image already in memory (the Python API's arrays): it is read instead of ``path``,
    which then only names it in messages.
    """

    path: Path
    channel: Optional[int] = None
    image: Optional[Any] = field(default=None, compare=False, repr=False)  # a nibabel Nifti1Image


@dataclass(frozen=True)
class Case:
    """One patient: modality sources, optional segmentation, and the edition it came from."""

    case_id: str
    edition: str  # brats2020 | brats2021 | brats2023 | msd
    images: dict[str, Source] = field(default_factory=dict)
    seg: Optional[Source] = None
    brain: Optional[Source] = None  # a brain mask (non-zero = brain) given by the user, else derived from the images

    @property
    def scheme(self) -> LabelScheme:
        """The label scheme of this case's edition."""
        return get_scheme(self.edition)

    @property
    def reference(self) -> Path:
        """A file whose geometry (shape, affine, header) predictions must copy."""
        return self.reference_source.path

    @property
    def reference_source(self) -> Source:
        """The image behind :attr:`reference`."""
        for name in REFERENCE_ORDER:
            if name in self.images:
                return self.images[name]
        raise DataError(f"case {self.case_id}: no image found")


def is_nifti(path: Path) -> bool:
    """True for visible ``.nii`` / ``.nii.gz`` files (MSD archives carry ``._*`` junk files)."""
    # a dangling link counts too: it is reported by name when read, not skipped in silence
    return (path.is_file() or path.is_symlink()) and not path.name.startswith(".") \
        and path.name.endswith((".nii", ".nii.gz"))


def nifti_stem(path: Path) -> str:
    """File name without ``.nii`` / ``.nii.gz``."""
    name = path.name
    return name[: -len(".nii.gz")] if name.endswith(".nii.gz") else name[: -len(".nii")]


def classify(path: Path) -> tuple[str, str, str] | None:
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


def _folder_case_id(folder: Path, found: list[tuple[Path, str, str, str]]) -> str:
    """The case id the files of a folder share; DataError naming a file that belongs to another case."""
    ids = [cid for _, cid, _, _ in found if cid]
    if not ids:
        return folder.name
    main = max(dict.fromkeys(ids), key=lambda c: (ids.count(c), c == folder.name))
    for path, cid, _, _ in found:
        if cid and cid != main:
            raise DataError(f"{path}: named for case '{cid}' but the other files of {folder} are case '{main}'; "
                            "move it to its own case folder or rename it")
    return main


def case_from_folder(folder: Path) -> Case | None:
    """Build a Case from a folder of per-modality files, or None if it holds no known modality.

    Raises:
        DataError: a file named for another case, or two files for one modality.
    """
    found = [(p, *c) for p in sorted(p for p in folder.iterdir() if is_nifti(p)) if (c := classify(p))]
    if not found:
        return None
    case_id = _folder_case_id(folder, found)
    images: dict[str, Source] = {}
    seg, edition = None, None
    for path, _, kind, ed in found:
        if (kind == "seg" and seg is not None) or kind in images:
            other = seg.path if kind == "seg" and seg is not None else images[kind].path
            raise DataError(f"{path}: a second {kind} file for case '{case_id}' (also {other.name}); keep one")
        if kind == "seg":
            seg = Source(path)
        else:
            images[kind], edition = Source(path), ed
    return Case(case_id, edition or found[0][3], images, seg)


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
        DataError: the folder does not exist, holds no recognisable case, or a case folder is inconsistent
            (a file of another case, two files of one modality, a case id twice).
    """
    cases, problems = scan_cases(root)
    if problems:
        raise DataError(problems[0])
    return cases


def scan_cases(root: str | Path) -> tuple[list[Case], list[str]]:
    """The consistent cases under ``root`` and one line per inconsistent case folder (for ``check``).

    Raises:
        DataError: ``root`` is no folder or holds no case at all.
    """
    root = Path(root)
    if root.is_file():
        raise DataError(f"{root} is a file, not a folder: give its case folder or a dataset root, or pass "
                        "explicit files (predict --flair F --t1ce F ...)")
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    problems: list[str] = []
    if (root / "imagesTr").is_dir() or (root / "imagesTs").is_dir():
        cases = _msd_cases(root)
    elif (single := case_from_folder(root)) is not None:
        cases = [single]
    else:
        cases = []
        for d in sorted(root.iterdir()):
            # BraTS 2018-2019 downloads group case folders by grade (HGG/, LGG/): one level of grouping is read
            for folder in _case_folders(d):
                try:
                    if (c := case_from_folder(folder)) is not None:
                        cases.append(c)
                except DataError as exc:
                    problems.append(str(exc))
    if not cases and not problems:
        raise DataError(f"{root}: no BraTS cases found (expected <case>/<case>_flair.nii.gz, "
                        "BraTS-GLI-*-t2f.nii.gz or MSD imagesTr/)")
    unique, twice = _split_duplicates(cases)
    return sorted(unique, key=lambda c: c.case_id), problems + twice


def _case_folders(folder: Path) -> list[Path]:
    """``folder`` itself when it holds a case's files, else its sub-folders (a grouping such as ``HGG/``)."""
    if not folder.is_dir():
        return []
    if any(is_nifti(p) for p in folder.iterdir()):
        return [folder]
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _split_duplicates(cases: list[Case]) -> tuple[list[Case], list[str]]:
    """Cases whose id appears once, and a problem line per id appearing twice: two folders holding one id
    would be merged, or one's prediction would overwrite the other's."""
    folders: dict[str, list[Path]] = {}
    for case in cases:
        source = next(iter(case.images.values()), case.seg)
        folders.setdefault(case.case_id, []).append(source.path.parent if source else Path("?"))
    twice = [f"case id '{cid}' appears {len(where)} times ({' and '.join(map(str, where))}); rename all but one"
             for cid, where in folders.items() if len(where) > 1]
    return [c for c in cases if len(folders[c.case_id]) == 1], twice


def check_case_id(case_id: str) -> str:
    """A case id becomes a file name (``<case>_seg.nii.gz``): no separators, no '..', nothing hidden."""
    if not case_id or "/" in case_id or "\\" in case_id or case_id.startswith(".") or "\0" in case_id:
        raise DataError(f"case id {case_id!r} cannot name an output file (no '/', '\\', leading '.'); "
                        "give --case-id a plain name such as BraTS20_Training_001")
    return case_id


def _check_named_files(images: dict[str, Source], seg: Source | None) -> None:
    """Explicit files checked as a folder would be: a name that carries another modality (or a segmentation) than
    its flag, one file behind two flags, or names of two different cases are refused, naming the files."""
    given = list(images.items()) + ([("seg", seg)] if seg else [])
    seen: dict[str, str] = {}
    for flag, source in given:
        key = str(Path(source.path).resolve())
        if key in seen:
            raise DataError(f"{source.path} is given for both --{seen[key]} and --{flag}; each modality needs its "
                            "own file")
        seen[key] = flag
        known = classify(Path(source.path))
        if known and known[1] != flag:
            what = "a segmentation" if known[1] == "seg" else f"the {known[1]} image"
            raise DataError(f"{source.path}: its name says it is {what} but it was given as --{flag}; "
                            f"swap the files or rename it")
    ids = {cid: source.path for _, source in given if (known := classify(Path(source.path))) and (cid := known[0])}
    if len(ids) > 1:
        (a, pa), (b, pb) = list(ids.items())[:2]
        raise DataError(f"the files name two cases: {pa} ('{a}') and {pb} ('{b}'); give one patient's files "
                        "(or rename them)")


def case_from_files(files: dict[str, str | Path], case_id: str | None = None, edition: str | None = None,
                    brain: str | Path | None = None) -> Case:
    """A Case from explicit files, e.g. ``{"flair": "a.nii.gz", "t1ce": "b.nii.gz"}``. Its edition (the label
    codes a prediction is written in): ``edition``, else the one the first file's name shows
    (``BraTS-GLI-00001-000-t2f.nii.gz``: brats2023), else brats2020. ``brain``: a brain-mask file (non-zero =
    brain) on the images' grid, for inputs whose background is not one constant value.

    Raises:
        DataError: a file named for another modality than its flag, one file for two flags, files of two cases,
            or a case id that cannot name a file.
    """
    images = {k: Source(Path(v)) for k, v in files.items() if v and k != "seg"}
    if not images:
        raise DataError("no input files given: pass at least --flair/--t1ce as the model needs")
    seg = Source(Path(files["seg"])) if files.get("seg") else None
    _check_named_files(images, seg)
    first = Path(next(iter(images.values())).path)
    known = classify(first)
    cid = check_case_id(case_id or (known[0] if known else None) or nifti_stem(first))
    return Case(cid, edition or (known[2] if known else "brats2020"), images, seg,
                Source(Path(brain)) if brain else None)
