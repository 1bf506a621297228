"""Cross-validation folds: nnU-Net's splits_final.json written and read, the test share held out."""

import json

import pytest

from brats_unet.atomic_files import write_json
from brats_unet.config import load_config
from brats_unet.data.split import fold_split, load_split, make_folds, make_split
from brats_unet.errors import ConfigError, DataError

PAPER = (0.6775, 0.2005, 0.1220)
IDS = [f"case{i:02d}" for i in range(23)]


def test_folds_partition_the_cases_and_train_on_the_rest():
    folds = make_folds(IDS, 5, seed=4)
    vals = [set(f["val"]) for f in folds]
    assert sorted(len(v) for v in vals) == [4, 4, 5, 5, 5]  # sizes differ by at most one
    assert set.union(*vals) == set(IDS) and sum(map(len, vals)) == len(IDS)
    for f in folds:
        assert set(f["train"]) == set(IDS) - set(f["val"])
    assert make_folds(list(reversed(IDS)), 5, seed=4) == folds  # depends on ids and seed only
    assert make_folds(IDS, 5, seed=5) != folds


def test_a_fold_holds_out_the_plain_splits_test_cases():
    test = make_split(IDS, PAPER, 0)["test"]
    splits = [fold_split(IDS, PAPER, 0, k, 5) for k in range(5)]
    for k, (split, folds) in enumerate(splits):
        assert split["test"] == test and split["fold"] == k
        assert split["val"] == folds[k]["val"] and not set(split["val"]) & set(test)
        assert folds == splits[0][1]  # every fold run writes the same splits_final.json
    assert set().union(*(s["val"] for s, _ in splits)) == set(IDS) - set(test)


def test_splits_final_json_round_trip(tmp_path):
    split, folds = fold_split(IDS, PAPER, 0, 3, 5)
    path = tmp_path / "splits_final.json"
    write_json(path, folds)
    assert isinstance(json.loads(path.read_text()), list)  # nnU-Net's format: a list of {train, val}
    again, read_folds = load_split(path, IDS, fold=3)
    assert again == split and read_folds == folds


def test_a_hand_written_nnunet_file_is_read(tmp_path):
    path = tmp_path / "splits_final.json"
    path.write_text(json.dumps([{"train": ["a", "b"], "val": ["c"]}, {"train": ["a", "c"], "val": ["b"]}]))
    split, _ = load_split(path, ["a", "b", "c", "d"], fold=1)
    assert (split["train"], split["val"], split["test"]) == (["a", "c"], ["b"], ["d"])  # d is in no fold: test


@pytest.mark.parametrize("content, fold, message", [
    ([{"train": ["a"], "val": ["b"]}], None, "choose one with --fold K"),
    ([{"train": ["a"], "val": ["b"]}], 1, "holds 1 folds, so data.fold=1 does not exist"),
    ([{"train": ["a"], "val": ["a"]}], 0, "case a is in both"),
    ([{"train": ["a"]}], 0, "each fold needs lists 'train' and 'val'"),
    ({"train": ["a"], "val": ["b"], "test": []}, 0, "a single split, not folds"),
])
def test_bad_fold_files_are_named(tmp_path, content, fold, message):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=message):
        load_split(path, ["a", "b"], fold=fold)


def test_fold_config_is_validated():
    with pytest.raises(ConfigError, match="data.fold: 5 is not a fold of data.folds=5; use 0..4"):
        load_config(overrides=["data.fold=5"])
    with pytest.raises(ConfigError, match="data.folds: must be >= 2"):
        load_config(overrides=["data.folds=1"])
    with pytest.raises(DataError, match="too few for 5 folds"):
        make_folds(["a", "b", "c"], 5, 0)
