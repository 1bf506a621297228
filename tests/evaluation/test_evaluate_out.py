"""``evaluate --out DIR``: scoring with other settings leaves the run folder (and what predict applies) as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_evaluate_out_writes_there_and_leaves_the_run_untouched(tiny_run, run_cli, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = _files(run)
    out = tmp_path / "scored-with-flips"
    done = run_cli("evaluate", run, "--out", out, "--set", "eval.tta=true", "--checkpoint", "last", "--quiet")
    assert done.code == 0, done.err
    assert _files(run) == before  # no RUN/eval, no new RUN/postprocessing.json
    assert {"table1.md", "table1.csv", "brats.md", "brats.csv", "per_case.csv"} <= {p.name for p in out.iterdir()}
    assert f"tables written to {out}/" in done.out
    choice = json.loads((out / "postprocessing.json").read_text())  # chosen on the run's validation cases
    assert choice["tta"] is True and choice["checkpoint"] == "last"  # with the settings it was scored with
    assert str(out / "postprocessing.json") in (out / "brats.md").read_text()


def test_evaluate_without_out_writes_into_the_run(tiny_run, run_cli, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert run_cli("evaluate", run, "--quiet").code == 0
    assert (run / "eval" / "per_case.csv").is_file()
    assert json.loads((run / "postprocessing.json").read_text())["checkpoint"] == "best"  # what predict will apply
