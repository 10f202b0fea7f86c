"""Config files: YAML / JSON reading, ``_base_`` inheritance, dotted overrides, saving, shipped configs.

A file may start from others with a top-level ``_base_: other.yaml`` (or a list of files, merged in order),
paths relative to the file; mappings are merged recursively, anything else (lists included) is replaced.
Dotted overrides (``model.head.upscale=2``, value parsed as YAML) are applied by :func:`override` or
``load_config(path, overrides=[...])``.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from enhancenet_core.config.decode import config_from_dict, config_to_dict
from enhancenet_core.config.errors import ConfigError
from enhancenet_core.config.errors import describe_value as _got
from enhancenet_core.config.schema import Config

__all__ = [
    "BASE_KEY",
    "list_shipped_configs",
    "load_config",
    "load_config_dict",
    "override",
    "save_config",
    "shipped_config_path",
]

class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 would read it as the string '1e-3')."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

BASE_KEY = "_base_"
_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def _read_mapping(path: Path) -> dict[str, Any]:
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ConfigError("", f"expected a .yaml, .yml or .json config file, got suffix '{path.suffix}'", path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if kind == "json" else yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError("", f"malformed {kind.upper()}: {exc}", path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("<root>", f"expected a mapping at the top level, {_got(data)}", path)
    return data


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge: mappings merge key by key, everything else in ``update`` replaces."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _resolve(path: Path, stack: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in stack:
        chain = " -> ".join(str(p) for p in (*stack, path))
        raise ConfigError(BASE_KEY, f"circular _base_ chain: {chain}", path)
    data = _read_mapping(path)
    bases = data.pop(BASE_KEY, None)
    if bases is None:
        return data
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(BASE_KEY, f"expected a file name or a list of file names, {_got(bases)}", path)
    merged: dict[str, Any] = {}
    for base in bases:
        try:
            merged = _merge(merged, _resolve(path.parent / base, (*stack, path)))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"config file {path.parent / base} (the _base_ of {path}) not found"
            ) from None
    return _merge(merged, data)


def load_config_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw nested mapping of a config file with its ``_base_`` chain merged in (not yet validated)."""
    return _resolve(Path(path), ())


def _parse_override(item: str) -> tuple[list[str], Any]:
    if not isinstance(item, str) or "=" not in item:
        raise ConfigError("", f"expected an override of the form 'a.b.c=value', got {item!r}")
    key, _, text = item.partition("=")
    parts = key.strip().split(".")
    if not all(p.strip() for p in parts):
        raise ConfigError(key, f"expected a dotted field path like 'model.head.upscale', got {key!r}")
    try:
        value = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(key.strip(), f"could not parse the override value {text!r} as YAML: {exc}") from None
    return [p.strip() for p in parts], value


def _apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for item in overrides:
        parts, value = _parse_override(item)
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    ".".join(parts[: depth + 1]), f"is not a section, cannot set '{'.'.join(parts)}' under it"
                )
            node = child
        node[parts[-1]] = value
    return out


def override(cfg: Config, overrides: Sequence[str]) -> Config:
    """A new config with dotted overrides applied, e.g. ``["model.head.upscale=2", "train.lr_steps=[5, 8]"]``.

    Each value is parsed as YAML; the result is validated like a file.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    return config_from_dict(_apply_overrides(config_to_dict(cfg), overrides))


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Load, merge (``_base_``), override and validate a YAML or JSON config file.

    Raises:
        FileNotFoundError: the file or one of its bases does not exist.
        ConfigError: malformed YAML/JSON, unknown key, wrong type or impossible value (message names the
            field path and the file).
    """
    try:
        data = load_config_dict(path)
        return config_from_dict(_apply_overrides(data, overrides))
    except ConfigError as exc:
        source = f"{path} with overrides {list(overrides)}" if overrides and not exc.source else path
        raise exc.with_source(source) from None


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_config(cfg: Config, path: str | os.PathLike[str]) -> Path:
    """Write every field of ``cfg`` to a YAML or JSON file (by suffix), atomically. Returns the path."""
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"save_config: expected a .yaml, .yml or .json path, got {path}")
    data = config_to_dict(cfg)
    if kind == "json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    _atomic_write_text(path, text)
    return path


# ----------------------------------------------------------------------------------------------------------
# Shipped configs
# ----------------------------------------------------------------------------------------------------------


def _configs_dir() -> Path:
    return Path(str(resources.files("enhancenet_core") / "configs"))


def list_shipped_configs(include_partials: bool = False) -> list[str]:
    """Names (``coco_hrnet_w32_256x192_enhancenet.yaml``, ...) of the configs shipped with the package.

    Files whose name starts with ``_`` are partial bases used through ``_base_``; they are listed only with
    ``include_partials=True``.
    """
    names = sorted(p.name for p in _configs_dir().iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    return [n for n in names if include_partials or not n.startswith("_")]


def shipped_config_path(name: str) -> Path:
    """Path of a shipped config; ``name`` may omit the ``.yaml`` suffix."""
    candidates = [name] if Path(name).suffix else [f"{name}.yaml", name]
    all_names = list_shipped_configs(include_partials=True)
    for candidate in candidates:
        if candidate in all_names:
            return _configs_dir() / candidate
    close = difflib.get_close_matches(name, all_names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise FileNotFoundError(f"no shipped config named {name!r}{hint} (see list_shipped_configs())")

