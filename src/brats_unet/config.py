"""Run configuration: nested frozen dataclasses, loaded from YAML, overridable with ``key=value``.

The defaults reproduce the case study's recipe (2D U-Net, FLAIR+T1ce, axial slices 5..149, 128x128,
categorical cross-entropy, Adam 1e-3). Key names are a public contract documented in the README.
Choices are ``Literal`` annotations, the one source of valid names: loading checks every value against
them, and the model and loss registries are tested to hold exactly these names.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import yaml

from .atomic_files import atomic_write_text
from .brats import MODALITIES, Convention, HdMethod, Modality, SchemeName
from .errors import ConfigError
from .yaml_dataclasses import build, choices, field_choices  # noqa: F401  (choices and field_choices: public, re-exported)

ArchName = Literal["unet", "residual_unet", "attention_unet"]
ActivationName = Literal["relu", "prelu", "leaky_relu"]
NormName = Literal["none", "batch", "instance", "group"]
LossName = Literal["ce", "weighted_ce", "dice", "focal", "tversky", "focal_tversky", "combo", "unified_focal",
                   "boundary"]
LossMode = Literal["multiclass", "regions"]
AugmentationName = Literal["light", "nnunet"]  # data/augment.py AUGMENTATIONS
DeviceName = Literal["auto", "cpu", "cuda", "mps"]
PrecisionName = Literal["auto", "fp32", "bf16", "amp", "fp16"]


@dataclass(frozen=True)
class DataConfig:
    """Which volumes to read and how to turn them into model inputs."""

    modalities: tuple[Modality, ...] = ("flair", "t1ce")
    slices: tuple[int, int] = (5, 150)  # half-open axial range: indices 5..149, 145 slices
    size: int = 128
    mode: Literal["resize", "native", "crop"] = "resize"
    normalize: Literal["zscore", "max"] = "zscore"  # zscore (brain voxels) | max (X / max, the Kaggle notebook)
    nonfinite: Literal["error", "zero"] = "error"  # NaN/inf image voxels: refuse the case, or read them as 0
    labels: Literal["auto", SchemeName] = "auto"
    max_cases: Optional[int] = None
    split_fractions: tuple[float, float, float] = (0.6775, 0.2005, 0.1220)
    split_seed: int = 0
    split_file: Optional[str] = None  # a run's split.json, or nnU-Net's splits_final.json (with data.fold)
    fold: Optional[int] = None  # cross-validation fold 0..folds-1 (nnU-Net's): the test share held out, the rest folded
    folds: int = 5
    oversample: float = 0.0  # fraction of samples drawn from slices/patches containing tumour
    augment: bool = False
    augmentation: AugmentationName = "light"  # with augment: light flips/rotation/jitter | nnunet (data/augment.py)
    patch_size: tuple[int, int, int] = (96, 96, 96)  # 3D patches (D, H, W)
    # 2D native/crop training on fixed (H, W) windows, tumour-centred on tumour slices; None: whole crops padded
    # to each batch's largest (validation and prediction always see whole slices)
    window: Optional[tuple[int, int]] = None
    context: int = 0  # 2.5D: k neighbouring slices on either side as extra channels (2D only; data/neighbour_slices.py)
    cache_dir: Optional[str] = None  # default: $BRATS_UNET_CACHE or ~/.cache/brats-unet


@dataclass(frozen=True)
class ModelConfig:
    """U-Net family; variants are values, never subclasses."""

    arch: ArchName = "unet"
    spatial_dims: Literal[2, 3] = 2
    in_channels: Optional[int] = None  # None: number of modalities
    num_classes: Optional[int] = None  # None: 4 (multiclass) or 3 (regions)
    base_features: int = 32
    depth: int = 4
    features: Optional[tuple[int, ...]] = None  # per-level widths (depth + 1 of them); None: base * 2**level
    activation: ActivationName = "relu"
    norm: NormName = "none"
    dropout: float = 0.2
    dropout_at: Literal["bottleneck", "decoder", "all"] = "bottleneck"
    upsample: Literal["interp", "transpose"] = "interp"  # interp: 2x up-sampling + 2x2 conv (the paper)
    deep_supervision: bool = False

    @property
    def multiple(self) -> int:
        """Spatial sizes the network accepts are multiples of this (one halving per level)."""
        return int(2**self.depth)


DEFAULT_MULTIPLE = 2**ModelConfig.depth  # the spatial multiple of the default network (depth 4: 16)


@dataclass(frozen=True)
class LossConfig:
    """A weighted sum of registered losses; ``loss: ce`` or ``loss: {dice: 1, ce: 1}`` set ``terms``.

    ``include_background`` and ``class_weights`` left at None use each loss's own default; set, they go
    to every term that takes them, and naming them for losses that would ignore them is an error.
    """

    terms: dict[LossName, float] = field(default_factory=lambda: {"ce": 1.0})
    mode: LossMode = "multiclass"  # multiclass (softmax, 4 classes) | regions (sigmoid WT/TC/ET)
    include_background: Optional[bool] = None
    class_weights: Optional[tuple[float, ...]] = None
    options: dict[LossName, dict[str, Any]] = field(default_factory=dict)  # per-loss keyword arguments


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule, precision and budget."""

    epochs: int = 35
    steps_per_epoch: Optional[int] = None
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: Literal["none", "plateau", "poly"] = "none"
    early_stopping: Optional[int] = None  # patience in epochs on `monitor`
    monitor: Literal["val_loss", "val_dice"] = "val_loss"  # val_dice: mean of WT/TC/ET
    seed: int = 0
    device: DeviceName = "auto"
    num_workers: int = 0
    precision: PrecisionName = "auto"  # fp16: CUDA only
    channels_last: bool = True
    sync_bn: bool = False  # SyncBatchNorm across processes under torchrun (CUDA, model.norm=batch)
    max_minutes: Optional[float] = None
    val_max_cases: Optional[int] = None
    log: tuple[Literal["csv", "tensorboard"], ...] = ("csv",)  # metrics.csv is always written


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation and inference settings."""

    convention: Convention = "brats2020"  # official evaluator whose rules the scores follow (brats.CONVENTIONS)
    hd95: HdMethod = "auto"  # pooled (medpy), max (MONAI), weighted (surface-distance); auto: the convention's
    lesionwise: Literal["none", "auto", "GLI", "SSA", "MEN", "PED", "MET"] = "none"  # sub-challenge parameters
    postprocess: Literal["auto", "none"] = "auto"  # auto: evaluate chooses it on validation, predict applies it
    batch_size: int = 16  # 16 against 32: 5 % faster predict, 0.85 against 1.25 GB peak (RESULTS.md)
    overlap: float = 0.5  # sliding-window overlap for 3D
    tta: bool = False
    # multiclass networks: argmax, or the class probabilities summed into WT/TC/ET, each above 1/2 (whole_case.py)
    decode: Literal["argmax", "regions"] = "argmax"
    mc_dropout: int = 0  # Monte-Carlo dropout samples at predict/evaluate (a model trained with dropout); 0: off
    # predict's engine: auto = ONNX Runtime where measured faster (fp32 on the CPU) if the run holds an
    # export of its checkpoint (brats-unet export RUN --format onnx), else PyTorch (infer/backend.py)
    engine: Literal["auto", "torch", "onnxruntime"] = "auto"
    # predict's and evaluate's precision; None: the run's train.precision. fp32 on a bf16 CPU gives the
    # plain-float answer (bf16 and fp32 masks differ in a few boundary voxels), bf16 the faster one
    precision: Optional[PrecisionName] = None


@dataclass(frozen=True)
class Config:
    """The whole run configuration."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    @property
    def in_channels(self) -> int:
        """Model input channels: explicit, or one per modality and slice of the 2.5D window."""
        return self.model.in_channels or len(self.data.modalities) * (2 * self.data.context + 1)

    @property
    def num_classes(self) -> int:
        """Model output channels: explicit, or 4 classes (multiclass) / 3 regions (regions mode)."""
        return self.model.num_classes or (3 if self.loss.mode == "regions" else 4)


LOSS_FIELDS = tuple(f.name for f in dataclasses.fields(LossConfig))


def loss_section(value: Any) -> dict:
    """The one normalisation of the ``loss`` section: ``ce`` and ``{dice: 1, ce: 1}`` are short for
    ``{terms: ...}``; a full mapping is returned as it is."""
    if isinstance(value, str):
        return {"terms": {value: 1.0}}
    if isinstance(value, dict):
        return dict(value) if set(value) & set(LOSS_FIELDS) or not value else {"terms": dict(value)}
    raise ConfigError(f"loss: expected a loss name or a mapping of names to weights, got {value!r}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b=value`` (value read as YAML) into (["a", "b"], value)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. model.activation=prelu")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {raw!r} is not valid YAML ({exc.__class__.__name__})") from None
    return key.strip().split("."), value


def apply_overrides(raw: dict, overrides: typing.Iterable[str]) -> dict:
    """Apply dotted ``key=value`` overrides to a raw config mapping (returns a new mapping)."""
    raw = _deep_copy(raw)
    for text in overrides:
        path, value = parse_override(text)
        set_dotted(raw, path, value)
    return raw


def set_dotted(raw: dict, path: list[str], value: Any) -> None:
    """Set ``raw[path[0]][path[1]]... = value``; ``loss=ce`` replaces the terms and keeps the other loss keys."""
    if path[0] == "loss":
        raw["loss"] = loss_section(raw.get("loss") or {})
        if path == ["loss"]:
            raw["loss"].update(loss_section(value))
            return
    node = raw
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {'.'.join(path)}: '{part}' is not a section")
        node = child
    node[path[-1]] = value


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    return list(raw) if isinstance(raw, list) else raw


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, raising ConfigError naming the file on failure."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; --config takes a YAML file (e.g. configs/paper.yaml)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; --config takes a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return raw


def from_dict(raw: dict) -> Config:
    """Build and validate a Config from a raw mapping (as read from YAML)."""
    raw = _deep_copy(raw)
    if "loss" in raw:
        raw["loss"] = loss_section(raw["loss"])
    cfg = build(Config, raw)
    validate(cfg)
    return cfg


def load_config(path: str | Path | None = None, overrides: typing.Iterable[str] = ()) -> Config:
    """Load defaults <- YAML file <- ``--set`` overrides, then validate.

    Raises:
        ConfigError: unknown key, wrong type, value out of range or not among the choices.
    """
    return from_dict(apply_overrides(read_yaml(path) if path else {}, overrides))


def to_dict(cfg: Config) -> dict:
    """The resolved config as plain YAML-friendly data (tuples become lists)."""
    return _listify(dataclasses.asdict(cfg))


def _listify(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _listify(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_listify(v) for v in obj]
    return obj


def validate(cfg: Config) -> None:
    """Cross-field and range checks (types and choices were checked while building)."""
    d, m, t = cfg.data, cfg.model, cfg.train
    if not d.modalities or len(set(d.modalities)) != len(d.modalities):
        raise ConfigError(f"data.modalities: need distinct modalities among {', '.join(MODALITIES)}, "
                          f"got {list(d.modalities)}")
    _validate_numbers(cfg)
    _validate_paths(cfg)
    _validate_multiples(cfg)
    if d.max_cases is not None and d.max_cases < 3:
        raise ConfigError(f"data.max_cases: need at least 3 cases (train/val/test), got {d.max_cases}")
    if d.fold is not None and not 0 <= d.fold < d.folds:
        raise ConfigError(f"data.fold: {d.fold} is not a fold of data.folds={d.folds}; use 0..{d.folds - 1}")
    if abs(sum(d.split_fractions) - 1) > 1e-6 or min(d.split_fractions) < 0:
        raise ConfigError(f"data.split_fractions: must be non-negative and sum to 1, got {list(d.split_fractions)}")
    if not 0 <= m.dropout < 1 or not 0 <= d.oversample <= 1:
        raise ConfigError("model.dropout must be in [0, 1) and data.oversample in [0, 1]")
    if t.lr <= 0:
        raise ConfigError(f"train.lr: must be positive, got {t.lr}")
    if t.sync_bn and m.norm != "batch":
        raise ConfigError(f"train.sync_bn: only batch norm keeps statistics to synchronise (model.norm is "
                          f"'{m.norm}'); remove train.sync_bn or set model.norm=batch")
    _validate_loss(cfg)


def _at_least(value: float | None, key: str, minimum: float) -> None:
    """``value`` (if set) must be >= ``minimum``; the error names the key, the value and the smallest one."""
    if value is not None and value < minimum:
        raise ConfigError(f"{key}: must be >= {minimum}, got {value}")


def _validate_numbers(cfg: Config) -> None:
    d, m, t, e = cfg.data, cfg.model, cfg.train, cfg.eval
    for key, value, minimum in (
        ("model.depth", m.depth, 1), ("model.base_features", m.base_features, 1), ("train.epochs", t.epochs, 1),
        ("train.batch_size", t.batch_size, 1), ("train.steps_per_epoch", t.steps_per_epoch, 1),
        ("train.weight_decay", t.weight_decay, 0), ("train.early_stopping", t.early_stopping, 1),
        ("train.num_workers", t.num_workers, 0), ("train.val_max_cases", t.val_max_cases, 1),
        ("train.seed", t.seed, 0), ("data.split_seed", d.split_seed, 0), ("eval.batch_size", e.batch_size, 1),
        ("data.size", d.size, 1), ("data.folds", d.folds, 2), ("model.in_channels", m.in_channels, 1),
        ("model.num_classes", m.num_classes, 1), ("data.context", d.context, 0), ("eval.mc_dropout", e.mc_dropout, 0),
    ):
        _at_least(value, key, minimum)
    if t.max_minutes is not None and t.max_minutes <= 0:
        raise ConfigError(f"train.max_minutes: must be positive (or null for no limit), got {t.max_minutes}")
    if not 0 <= e.overlap < 1:
        raise ConfigError(f"eval.overlap: must be in [0, 1), got {e.overlap}; e.g. 0.5")
    if d.context and m.spatial_dims == 3:
        raise ConfigError(f"data.context: {d.context} stacks neighbouring slices for 2D models; a 3D model "
                          "sees them already: set data.context=0 or model.spatial_dims=2")
    if min(d.patch_size) < 1:
        raise ConfigError(f"data.patch_size: sizes must be positive, got {list(d.patch_size)}")
    if m.features is not None and (len(m.features) != m.depth + 1 or min(m.features) < 1):
        raise ConfigError(f"model.features: need model.depth + 1 = {m.depth + 1} positive widths (encoder levels "
                          f"and bottleneck), got {list(m.features)}; or null for base_features * 2**level")
    if d.slices[0] < 0 or d.slices[1] <= d.slices[0]:
        raise ConfigError(f"data.slices: need 0 <= start < stop, got {list(d.slices)}")


def _validate_paths(cfg: Config) -> None:
    split, cache = cfg.data.split_file, cfg.data.cache_dir
    if split is not None and not Path(split).is_file():
        raise ConfigError(f"data.split_file: {split} is not a file; give a split.json from a run folder, "
                          "a splits_final.json (with data.fold) or null")
    if cache is not None and Path(cache).exists() and not Path(cache).is_dir():
        raise ConfigError(f"data.cache_dir: {cache} is a file; give a folder (created if missing)")


def _validate_multiples(cfg: Config) -> None:
    """Sizes the network sees must be multiples of 2**model.depth; name the key and a value that works."""
    step = cfg.model.multiple
    if cfg.data.mode == "resize" and cfg.data.size % step:
        raise ConfigError(f"data.size: {cfg.data.size} is not divisible by 2**model.depth = {step}; "
                          f"use {-(-cfg.data.size // step) * step} or lower model.depth")
    if cfg.model.spatial_dims == 3:
        bad = [p for p in cfg.data.patch_size if p % step]
        if bad:
            fix = [-(-p // step) * step for p in cfg.data.patch_size]
            raise ConfigError(f"data.patch_size: {list(cfg.data.patch_size)} is not divisible by 2**model.depth = "
                              f"{step}; use {fix} or lower model.depth")
    win = cfg.data.window
    if win is not None and (cfg.data.mode == "resize" or cfg.model.spatial_dims == 3 or len(win) != 2
                            or min(win) < step or any(w % step for w in win)):
        raise ConfigError(f"data.window: {list(win)} needs data.mode native or crop, a 2D model and two sizes that "
                          f"are multiples of 2**model.depth = {step}, e.g. [{8 * step}, {8 * step}]; or null")
    if cfg.data.mode in ("native", "crop") and step > 256:
        raise ConfigError(f"model.depth: {cfg.model.depth} halves a {cfg.data.mode} slice below one voxel; "
                          "use model.depth <= 8")


def _validate_loss(cfg: Config) -> None:
    lc = cfg.loss
    if not lc.terms:
        raise ConfigError("loss: name at least one loss, e.g. loss=ce")
    bad = {name: w for name, w in lc.terms.items() if not (math.isfinite(w) and w > 0)}
    if bad:  # a negative weight turns minimising the loss into maximising it (a Dice loss 'trains' to -1)
        name = next(iter(bad))
        raise ConfigError(f"loss.terms.{name}: weight {bad[name]} must be positive; drop the term instead of "
                          "weighting it 0, e.g. loss={dice: 1.0, ce: 1.0}")
    if lc.class_weights is not None and not all(math.isfinite(w) and w >= 0 for w in lc.class_weights):
        raise ConfigError(f"loss.class_weights: {list(lc.class_weights)} must be non-negative")
    if lc.class_weights is not None and len(lc.class_weights) != cfg.num_classes:
        raise ConfigError(f"loss.class_weights: {len(lc.class_weights)} values for {cfg.num_classes} output "
                          f"channels ({lc.mode} mode); give {cfg.num_classes}")


def save_yaml(data: Any, path: str | Path) -> None:
    """Write YAML atomically (temp file, then rename)."""
    atomic_write_text(Path(path), yaml.safe_dump(data, sort_keys=False))
