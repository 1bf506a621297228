"""Frozen dataclasses from plain YAML data: types checked, ``Literal`` choices enforced, unknown keys refused.

Generic (no BraTS knowledge): :mod:`brats_unet.config` declares the run configuration with these rules.
Every error is a :class:`~brats_unet.errors.ConfigError` naming the dotted key, the value and the options.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

from .errors import ConfigError, closest


def choices(tp: Any) -> tuple | None:
    """The values a ``Literal`` annotation allows (nested Literals flattened), or None for other types."""
    if typing.get_origin(tp) is not Literal:
        return None
    out: list = []
    for arg in typing.get_args(tp):
        out += list(choices(arg) or (arg,))
    return tuple(out)


def field_choices(cls: type, name: str) -> tuple:
    """The choices of one Literal-typed dataclass field (used for argparse ``choices``)."""
    return choices(typing.get_type_hints(cls)[name]) or ()


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert one YAML value against a type annotation; raise ConfigError naming ``key``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:  # Optional[X]
        return None if value is None else _coerce(value, args[0], key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} values, got {list(value)!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {_coerce(str(k), args[0], f"{key}.{k}"): _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    return _coerce_scalar(value, tp, key)


def _coerce_scalar(value: Any, tp: Any, key: str) -> Any:
    options = choices(tp)
    if options is not None:
        if any(value == o and type(value) is type(o) for o in options):
            return value
        opts = ", ".join(map(str, options))
        raise ConfigError(f"{key}: invalid value {value!r}; options: {opts}{closest(str(value), map(str, options))}")
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"{key}: expected {getattr(tp, '__name__', tp)}, got {value!r}")


def build(cls: type, raw: dict, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a raw mapping, rejecting unknown keys with a suggestion."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"unknown config key '{path}'{closest(key, names)}; valid: {', '.join(names)}")
        tp = hints[key]
        nested = isinstance(tp, type) and dataclasses.is_dataclass(tp)
        kwargs[key] = build(tp, value, path + ".") if nested else _coerce(value, tp, path)
    return cls(**kwargs)
