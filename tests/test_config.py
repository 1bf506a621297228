import dataclasses
import re
from pathlib import Path

import pytest

from brats_unet.config import Config, ConfigError, from_dict, load_config, to_dict


def test_defaults_are_the_paper_recipe():
    cfg = load_config()
    assert cfg.data.modalities == ("flair", "t1ce") and cfg.data.slices == (5, 150) and cfg.data.size == 128
    assert cfg.model.arch == "unet" and cfg.model.activation == "relu" and cfg.model.dropout == 0.2
    assert cfg.loss.terms == {"ce": 1.0} and cfg.train.lr == 1e-3


def test_overrides_are_parsed_as_yaml(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model: {norm: batch}\ntrain: {epochs: 3}\n")
    cfg = load_config(f, ["model.activation=prelu", "data.slices=[10, 20]", "loss={dice: 1.0, ce: 0.5}"])
    assert cfg.model.activation == "prelu" and cfg.model.norm == "batch" and cfg.train.epochs == 3
    assert cfg.data.slices == (10, 20) and cfg.loss.terms == {"dice": 1.0, "ce": 0.5}


def test_loss_short_forms_keep_other_loss_fields():
    cfg = load_config(overrides=["loss.mode=regions", "loss=dice"])
    assert cfg.loss.mode == "regions" and cfg.loss.terms == {"dice": 1.0}


@pytest.mark.parametrize("override, fragment", [
    ("model.activaton=prelu", "did you mean 'activation'"),
    ("model.activation=prelo", "did you mean 'prelu'"),
    ("model.arch=atention_unet", "did you mean 'attention_unet'"),
    ("data.mode=crpo", "did you mean 'crop'"),
    ("train.epochs=ten", "train.epochs: expected int"),
    ("loss=dise", "did you mean 'dice'"),
    ("data.modalities=[flair, t1c]", "did you mean 't1ce'"),
    ("data.size=100", "data.size"),
])
def test_bad_values_raise_clear_errors(override, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(overrides=[override])


def test_round_trip_through_dict():
    cfg = load_config(overrides=["model.norm=instance", "loss={dice: 1, ce: 1}"])
    assert from_dict(to_dict(cfg)) == cfg
    assert isinstance(cfg, Config)


def test_config_is_frozen():
    cfg = load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.model.arch = "x"  # type: ignore[misc]


def test_loss_subkey_after_short_form_in_a_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("loss: {dice: 1.0, ce: 1.0}\n")
    cfg = load_config(f, ["loss.mode=regions", "loss.include_background=false"])
    assert cfg.loss.terms == {"dice": 1.0, "ce": 1.0} and cfg.loss.mode == "regions"
    assert not cfg.loss.include_background


def test_paper_yaml_equals_the_defaults():
    paper = load_config(Path(__file__).resolve().parents[1] / "configs" / "paper.yaml")
    assert paper == load_config()


@pytest.mark.parametrize("overrides, fragment", [
    (["model.depth=8"], "data.size: 128 is not divisible by 2**model.depth = 256; use 256"),
    (["data.size=120"], "data.size: 120 is not divisible by 2**model.depth = 16; use 128"),
    (["model.spatial_dims=3", "data.patch_size=[96, 96, 40]"], "data.patch_size: [96, 96, 40] is not divisible by "
     "2**model.depth = 16; use [96, 96, 48]"),
    (["model.spatial_dims=4"], "model.spatial_dims: invalid value 4; options: 2, 3"),
    (["loss.mode=region"], "did you mean 'regions'"),
    (["data.labels=brats2024"], "options: auto, brats2020, brats2023, brats2024-gli, brats2024-ped, msd"),
    (["loss.class_weights=[1, 2]"], "loss.class_weights: 2 values for 4 output channels"),
    (["loss={dise: 1}"], "loss.terms.dise: invalid value 'dise'"),
])
def test_values_checked_at_load_name_the_key_and_a_fix(overrides, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(overrides=overrides)


def test_depth_sets_the_spatial_multiple_everywhere():
    cfg = load_config(overrides=["model.depth=5", "data.size=160"])
    assert cfg.model.multiple == 32
    assert load_config(overrides=["model.depth=5", "data.mode=crop"]).model.multiple == 32  # crop pads to it


def test_choices_come_from_the_literal_annotations():
    from brats_unet.brats import SCHEME_NAMES
    from brats_unet.config import DataConfig, field_choices

    assert field_choices(DataConfig, "labels") == ("auto", *SCHEME_NAMES)
    assert field_choices(DataConfig, "mode") == ("resize", "native", "crop")


def test_short_loss_forms_are_normalised_once_and_keep_the_section():
    cfg = load_config(overrides=["loss.mode=regions", "loss=dice"])
    assert cfg.loss.terms == {"dice": 1.0} and cfg.loss.mode == "regions"
    cfg = load_config(overrides=["loss={dice: 1, ce: 2}", "loss.mode=regions"])
    assert cfg.loss.terms == {"dice": 1.0, "ce": 2.0} and cfg.loss.mode == "regions"


CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_loads_and_survives_a_round_trip(path):
    cfg = load_config(path)
    assert from_dict(to_dict(cfg)) == cfg


def test_the_two_modality_recipe_is_the_recommended_one_on_flair_and_t1ce():
    shipped = {p.stem: load_config(p) for p in CONFIGS}
    four, two = shipped["recommended"], shipped["recommended-2mod"]
    assert two.data.modalities == ("flair", "t1ce") and len(four.data.modalities) == 4
    assert dataclasses.replace(two, data=dataclasses.replace(two.data, modalities=four.data.modalities)) == four
