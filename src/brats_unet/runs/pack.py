"""``pack`` / ``unpack``: a run folder as one zip to hand to a colleague, which ``predict`` reads as it is.

The zip holds ``config.yaml``, ``split.json``, ``run.json`` (version, git hash, seed), ``metrics.csv`` when
present, the chosen checkpoint(s) and ``PACK.json`` (the package version and a SHA-256 per file, checked
on unpack). Members are plain names: an archive with folders or ``..`` is refused (no zip-slip).
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
OPTIONAL = ("metrics.csv",)
CHECKPOINTS = {"best": ("best.pt",), "last": ("last.pt",), "both": ("best.pt", "last.pt")}
MANIFEST = "PACK.json"


def pack(run_dir: str | Path, out: str | Path, checkpoints: str = "best") -> Path:
    """Zip a run folder into ``out`` (atomically); ``checkpoints``: best | last | both."""
    run_dir, out = Path(run_dir), Path(out)
    names = [*REQUIRED, *CHECKPOINTS[checkpoints]]
    missing = [n for n in names if not (run_dir / n).is_file()]
    if missing:
        raise DataError(f"{run_dir}: cannot pack, {', '.join(missing)} missing (train the run first)")
    names += [n for n in OPTIONAL if (run_dir / n).is_file()]
    manifest = {"brats_unet": __version__, "files": {n: sha256_file(run_dir / n) for n in names}}
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            zf.write(run_dir / name, name)
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
    return out


def unpack(archive: str | Path, dest: str | Path) -> Path:
    """Extract a packed run into the folder ``dest`` (created; must not hold a run), checking every file."""
    archive, dest = Path(archive), Path(dest)
    if (dest / "config.yaml").exists():
        raise DataError(f"{dest} already holds a run; choose an empty folder")
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
            try:
                manifest = json.loads(zf.read(MANIFEST))
                for name, digest in manifest["files"].items():
                    zf.extract(name, staging)
                    if sha256_file(staging / name) != digest:
                        raise DataError(f"{archive}: {name} is damaged (checksum mismatch)")
            except DataError:
                raise
            except (zipfile.BadZipFile, zlib.error, KeyError, TypeError, ValueError) as exc:
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
