"""Typed decoding: a nested mapping (from YAML/JSON) to the frozen dataclasses and back.

Each value is checked against its field's type hint: enum fields accept their string values, tuple fields
accept lists, float fields accept integers (never booleans), floats must be finite, integers must fit in 64 bits. Unknown keys are refused
with the closest allowed name. Every problem raises :class:`~enhancenet_core.config.errors.ConfigError`
naming the field path.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from enhancenet_core.config.errors import ConfigError
from enhancenet_core.config.errors import describe_value as _got
from enhancenet_core.config.rules import validate_config
from enhancenet_core.config.schema import Config

__all__ = ["config_from_dict", "config_to_dict"]

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the type hint ``tp`` and return it converted (lists -> tuples, str -> enum)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _convert(value, non_none[0], path)
        raise ConfigError(path, f"unsupported type {tp}")  # pragma: no cover - not used by the schema
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(path, f"expected a list, {_got(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(path, f"expected a list of {len(args)} items, got {len(value)} items {list(value)!r}")
        return tuple(_convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if is_dataclass(tp):
        return _dataclass_from_dict(tp, value, path)
    if isinstance(tp, type) and issubclass(tp, Enum):
        if isinstance(value, tp):
            return value
        if isinstance(value, str):
            try:
                return tp(value)
            except ValueError:
                pass
        raise ConfigError(path, f"expected one of {[m.value for m in tp]}, {_got(value)}")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected a boolean (true/false), {_got(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected an integer, {_got(value)}")
        if not -(2**63) <= value < 2**63:  # NumPy's and every framework's sizes and indices are int64
            raise ConfigError(path, f"expected an integer that fits in 64 bits (|value| < 2**63), got {value}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, {_got(value)}")
        if not math.isfinite(value):
            raise ConfigError(path, f"expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, {_got(value)}")
        return value
    raise ConfigError(path, f"unsupported type {tp}")  # pragma: no cover - not used by the schema


def _dataclass_from_dict(cls: type, data: Any, path: str) -> Any:
    if isinstance(data, cls):
        data = _to_plain(data)
    if not isinstance(data, Mapping):
        raise ConfigError(path or "<root>", f"expected a mapping of the fields of {cls.__name__}, {_got(data)}")
    hints = _hints(cls)
    names = [f.name for f in fields(cls)]
    for key in data:
        if key not in names:
            where = f"{path}.{key}" if path else str(key)
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            extra = " (_base_ is resolved only when loading a file)" if key == "_base_" else ""
            raise ConfigError(where, f"unknown key{extra}; allowed keys: {', '.join(names)}{hint}")
    kwargs = {}
    for name in names:
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], f"{path}.{name}" if path else name)
    return cls(**kwargs)


def _to_plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_to_plain(v) for v in value]
    return value


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Plain, JSON/YAML-ready dict of every field (enums as their strings, tuples as lists).

    ``config_from_dict(config_to_dict(cfg)) == cfg`` and ``config_to_dict(config_from_dict(d)) == d`` for any
    ``d`` produced by this function.
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"config_to_dict: expected a Config, got {type(cfg).__name__}")
    return _to_plain(cfg)


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a (possibly partial) nested mapping.

    Missing keys take their defaults. Enum fields accept their string values, tuple fields accept lists,
    float fields accept integers. Raises :class:`ConfigError` naming the field path on an unknown key, a wrong
    type or an impossible value.
    """
    cfg = _dataclass_from_dict(Config, data, "")
    validate_config(cfg)
    return cfg

