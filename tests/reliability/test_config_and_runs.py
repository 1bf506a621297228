"""Bad config values (refused at load, before any preprocessing) and damaged run folders, through every
entry point that reads them: exit 2, one line naming the key or file, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from .conftest import TINY, temporaries

CONFIG_VALUES = [
    ("eval.batch_size=0", "eval.batch_size: must be >= 1, got 0"),
    ("train.steps_per_epoch=-1", "train.steps_per_epoch: must be >= 1, got -1"),
    ("eval.overlap=1.0", "eval.overlap: must be in [0, 1), got 1.0"),
    ("train.max_minutes=-1", "train.max_minutes: must be positive"),
    ("train.weight_decay=-0.1", "train.weight_decay: must be >= 0"),
    ("model.depth=6", "data.size: 32 is not divisible by 2**model.depth = 64; use 64"),
    ("train.num_workers=-2", "train.num_workers: must be >= 0"),
    ("data.cache_dir=FILE", "data.cache_dir: FILE is a file"),
    ("data.split_file=MISSING", "data.split_file: MISSING is not a file"),
]
ENTRIES = ("train", "prepare", "study")


def _args(entry: str, data: Path, tmp: Path, override: str) -> list:
    sets = [a for s in TINY + [override] for a in ("--set", s)]
    if entry == "train":
        return ["train", "--data", data, "--out", tmp / "out", *sets]
    if entry == "prepare":
        return ["prepare", data, "--out", tmp / "out", *sets]
    (tmp / "s.yaml").write_text("name: s\nvariants: {ce: {loss: ce}}\n")
    budget = ["--set", "data.size=32", "--set", "train.epochs=1", "--set", "train.steps_per_epoch=1"]
    return ["study", tmp / "s.yaml", "--data", data, "--out", tmp / "out", *budget, "--set", override]


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("override, message", CONFIG_VALUES, ids=[c[0].split("=")[0] for c in CONFIG_VALUES])
def test_bad_config_values_are_refused_at_load(entry, override, message, phantoms, run_cli, tmp_path):
    (tmp_path / "FILE").write_text("x")
    override = override.replace("FILE", str(tmp_path / "FILE")).replace("MISSING", str(tmp_path / "none.json"))
    message = message.replace("FILE", str(tmp_path / "FILE")).replace("MISSING", str(tmp_path / "none.json"))
    result = run_cli(*_args(entry, phantoms, tmp_path, override))
    assert result.code == 2 and len(result.error_lines) == 1 and message in result.error_lines[0], result.err
    assert not (tmp_path / "out").exists() and not temporaries(tmp_path)


def test_a_split_with_no_training_case_is_refused_before_preprocessing(phantoms, run_cli, tmp_path):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": [], "val": ["Synth_001"], "test": ["Synth_002"]}))
    result = run_cli("train", "--data", phantoms, "--out", tmp_path / "out", "--set", f"data.split_file={split}",
                     "--set", f"data.cache_dir={tmp_path / 'cache'}")
    assert result.code == 2 and "'train' list is empty" in result.error_lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("content, message", [(None, "is a folder"), (b"\xff\xfe\x00bad", "not a UTF-8 text file")])
@pytest.mark.parametrize("entry", ("train", "prepare"))
def test_config_path_that_is_no_yaml_file(entry, content, message, phantoms, run_cli, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.mkdir() if content is None else cfg.write_bytes(content)
    args = ["train", "--data", phantoms, "--out", tmp_path / "o"] if entry == "train" else ["prepare", phantoms]
    result = run_cli(*args, "--config", cfg)
    assert result.code == 2 and message in result.error_lines[0] and str(cfg) in result.error_lines[0]


# --- damaged run folders -------------------------------------------------------------------------------
def _no_metrics(run: Path) -> str:
    (run / "metrics.csv").unlink()
    return "metrics.csv"


def _no_run_json(run: Path) -> str:
    (run / "run.json").unlink()
    return "run.json"


def _no_config(run: Path) -> str:
    (run / "config.yaml").unlink()
    return "config.yaml"


def _config_changed(run: Path) -> str:
    text = (run / "config.yaml").read_text().replace("base_features: 4", "base_features: 8")
    (run / "config.yaml").write_text(text)
    return "model.base_features: 8 in config.yaml, 4 in the checkpoint"


def _best_damaged(run: Path) -> str:
    data = (run / "best.pt").read_bytes()
    (run / "best.pt").write_bytes(data[: len(data) // 3])
    return "best.pt: cannot load checkpoint"


RUN_DAMAGE = {"no_metrics": (_no_metrics, ("report",)), "no_run_json": (_no_run_json, ("evaluate", "report")),
              "no_config": (_no_config, ("predict", "evaluate", "report")),
              "config_changed": (_config_changed, ("predict", "evaluate", "report")),
              "best_damaged": (_best_damaged, ("predict", "evaluate", "report"))}
RUN_CASES = [(k, e) for k, (_, entries) in RUN_DAMAGE.items() for e in entries]


def _run_args(entry: str, run: Path, data: Path, tmp: Path) -> list:
    if entry == "predict":
        return ["predict", run, data, "--out", tmp / "pred"]
    return [entry, run]  # evaluate / report read the data root from run.json


@pytest.mark.parametrize("kind, entry", RUN_CASES, ids=[f"{k}-{e}" for k, e in RUN_CASES])
def test_damaged_run_folders(kind, entry, run_copy, phantoms, run_cli, tmp_path):
    damage, _ = RUN_DAMAGE[kind]
    culprit = damage(run_copy)
    result = run_cli(*_run_args(entry, run_copy, phantoms, tmp_path))
    assert result.code == 2 and len(result.error_lines) == 1 and culprit in result.error_lines[0], result.err
    if kind == "best_damaged":
        assert "try --checkpoint last" in result.error_lines[0]
    assert not (tmp_path / "pred").exists() and not (run_copy / "eval").exists()


class _Payload:
    """Unpickling this runs code: it touches a marker file. weights_only=True must refuse it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("entry", ("predict", "evaluate", "report", "resume"))
def test_a_pickle_payload_checkpoint_is_refused(entry, run_copy, phantoms, run_cli, tmp_path):
    marker = tmp_path / "pwned"
    for name in ("best.pt", "last.pt"):
        torch.save({"model": _Payload(marker)}, run_copy / name)
    args = ["train", "--data", phantoms, "--out", run_copy, "--resume"] if entry == "resume" else \
        _run_args(entry, run_copy, phantoms, tmp_path)
    result = run_cli(*args)
    assert result.code == 2 and len(result.error_lines) == 1 and "cannot load checkpoint" in result.error_lines[0]
    assert not marker.exists()
