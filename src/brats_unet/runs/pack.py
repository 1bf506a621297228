"""``pack`` / ``unpack``: a run folder as one zip to hand to a colleague, which ``predict`` reads as it is.

The zip holds ``config.yaml``, ``split.json``, ``run.json`` (version, git hash, seed), ``metrics.csv`` when
present, the chosen checkpoint(s) and ``PACK.json`` (the package version and a SHA-256 per file, checked
on unpack). Members are plain names: an archive with folders or ``..`` is refused (no zip-slip). The manifest
is checked before anything is extracted: it must list every member but itself, each with a SHA-256, and the run's
required files and a checkpoint; a member it does not list, or a symbolic link, refuses the whole archive.
``pack`` loads each checkpoint before shipping it, and never writes into the run folder it packs.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

from ..atomic_files import atomic_path, make_folder, sha256_file, temp_folder, write_json
from ..errors import DataError
from ..version import __version__

REQUIRED = ("config.yaml", "split.json", "run.json")
OPTIONAL = ("metrics.csv", "signatures.json")
CHECKPOINTS = {"best": ("best.pt",), "last": ("last.pt",), "both": ("best.pt", "last.pt")}
MANIFEST = "PACK.json"


def refuse_inside(out: Path, run_dir: Path, what: str) -> None:
    """DataError when ``out`` lies inside ``run_dir``: a command's output may not replace a run's own files."""
    if out.resolve() == run_dir.resolve() or run_dir.resolve() in out.resolve().parents:
        raise DataError(f"{out}: {what} would be written inside the run folder {run_dir}; choose a path outside it")


def pack(run_dir: str | Path, out: str | Path, checkpoints: str = "best") -> Path:
    """Zip a run folder into ``out`` (atomically); ``checkpoints``: best | last | both."""
    from .checkpoint import load_checkpoint

    run_dir, out = Path(run_dir), Path(out)
    refuse_inside(out, run_dir, "the packed run")
    names = [*REQUIRED, *CHECKPOINTS[checkpoints]]
    missing = [n for n in names if not (run_dir / n).is_file()]
    if missing:
        raise DataError(f"{run_dir}: cannot pack, {', '.join(missing)} missing (train the run first)")
    for name in CHECKPOINTS[checkpoints]:  # a damaged checkpoint is refused here, not by the colleague
        if "model" not in load_checkpoint(run_dir / name):
            raise DataError(f"{run_dir / name}: holds no model weights; it cannot be shipped")
    names += [n for n in OPTIONAL if (run_dir / n).is_file()]
    manifest = {"brats_unet": __version__, "files": {n: sha256_file(run_dir / n) for n in names}}
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            zf.write(run_dir / name, name)
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
    return out


def _manifest(zf: zipfile.ZipFile, archive: Path) -> dict:
    """PACK.json, its {member: sha256} checked against the archive's members before anything is extracted."""
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except (KeyError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{archive}: {MANIFEST} is unreadable ({exc.__class__.__name__}); not a packed run") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) and len(v) == 64
                                              for k, v in files.items()):
        raise DataError(f"{archive}: {MANIFEST} must map every member to its SHA-256 ('files'); not a packed run")
    members = {i.filename: i for i in zf.infolist()}
    links = [n for n, i in members.items() if (i.external_attr >> 16) & 0o170000 == 0o120000]
    unlisted = sorted(set(members) - set(files) - {MANIFEST})
    absent = sorted(set(files) - set(members))
    needed = [n for n in REQUIRED if n not in files] + ([] if set(files) & {"best.pt", "last.pt"} else ["a checkpoint"])
    for problem, names in (("symbolic links", links), ("members not in the manifest", unlisted),
                           ("listed files missing", absent), ("run files missing", needed)):
        if names:
            raise DataError(f"{archive}: {problem}: {', '.join(names[:3])}; refusing the archive (re-pack the run "
                            "with brats-unet pack)")
    return manifest


def unpack(archive: str | Path, dest: str | Path) -> Path:
    """Extract a packed run into the folder ``dest`` (created, or empty), checking every file."""
    archive, dest = Path(archive), Path(dest)
    if dest.is_file() or (dest.is_dir() and any(dest.iterdir())):
        raise DataError(f"{dest} is not an empty folder (unpack would mix the run with what is there); choose a new "
                        "or empty folder")
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{archive}: not a packed run ({exc})") from None
    with zf:
        names = zf.namelist()
        bad = [n for n in names if "/" in n or "\\" in n or n.startswith(".")]
        if bad or MANIFEST not in names:
            raise DataError(f"{archive}: not a packed run (unexpected members {bad[:3]} or no {MANIFEST})")
        staging = temp_folder(make_folder(dest.resolve().parent), "unpack")
        try:
            manifest = _manifest(zf, archive)
            try:
                for name, digest in manifest["files"].items():
                    zf.extract(name, staging)
                    if sha256_file(staging / name) != digest:
                        raise DataError(f"{archive}: {name} is damaged (checksum mismatch)")
            except (zipfile.BadZipFile, zlib.error, KeyError, TypeError, ValueError, EOFError) as exc:
                raise DataError(f"{archive}: damaged or not a packed run ({exc.__class__.__name__}: {exc})") from None
            write_json(staging / MANIFEST, manifest)
            make_folder(dest)
            for item in staging.iterdir():
                shutil.move(str(item), dest / item.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def unpacked(archive: Path) -> Path:
    """A packed run extracted into a temporary folder removed at exit (``predict run.zip ...``)."""
    folder = Path(tempfile.mkdtemp(prefix="brats-unet-run-"))
    atexit.register(shutil.rmtree, folder, True)
    return unpack(archive, folder / archive.stem)
