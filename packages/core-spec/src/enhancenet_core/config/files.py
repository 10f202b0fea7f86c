"""Config files: YAML / JSON reading, ``_base_`` inheritance, dotted overrides, saving, shipped configs.

A file may start from others with a top-level ``_base_: other.yaml`` (or a list of files, merged in order),
paths relative to the file; a bare name with no such file beside it names a shipped config
(``_base_: coco_hrnet_w32_256x192_enhancenet``, ``.yaml`` optional); mappings are merged recursively, anything else (lists included) is replaced.
Dotted overrides (``model.head.upscale=2``, value parsed as YAML) are applied by :func:`override` or
``load_config(path, overrides=[...])``.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from enhancenet_core.config.decode import config_from_dict, config_to_dict
from enhancenet_core.config.errors import ConfigError
from enhancenet_core.config.errors import describe_value as _got
from enhancenet_core.config.schema import Config
from enhancenet_core.files import atomic_write_text

__all__ = [
    "BASE_KEY",
    "list_shipped_configs",
    "load_config",
    "load_config_dict",
    "override",
    "save_config",
    "shipped_config_path",
]

#: Largest config file read (bytes): 256 KiB. Shipped configs are at most 1.5 KiB; a larger file is refused
#: before parsing (pure-Python YAML parses about 16 KiB/s of dense mappings: 256 KiB takes ~15 s, 10 MB minutes).
MAX_CONFIG_BYTES = 256 * 1024
#: Deepest nesting of mappings / lists accepted in a config file or override (the schema needs 4).
MAX_CONFIG_DEPTH = 32
#: Most values (scalars, lists, mappings, YAML aliases expanded) in one file, against alias "bombs".
MAX_CONFIG_NODES = 100_000
#: Most files one load may read through ``_base_`` (against exponential diamond chains).
MAX_BASE_FILES = 64


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 would read it as the string '1e-3') and refuses
    a key that appears twice in one mapping (PyYAML would silently keep the last value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<: *base`` keys may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKeyError(key, f"at line {line} (first at line {seen[key]})")
                seen[key] = line
            except TypeError:  # an unhashable key: SafeConstructor reports it
                continue
        return super().construct_mapping(node, deep=deep)


class _DuplicateKeyError(Exception):
    def __init__(self, key: Any, where: str) -> None:
        super().__init__(f"duplicate key {key!r} {where}: each key may appear once in a mapping")


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


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A PyYAML error on one line: the problem and where (``line L, column C``), without the source excerpt."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{problem}{where}"
    return " ".join(str(exc).split())


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key, "in a JSON object")
        out[key] = value
    return out


def _check_shape(data: Any, what: str) -> None:
    """Refuse nesting deeper than :data:`MAX_CONFIG_DEPTH` or more than :data:`MAX_CONFIG_NODES` values
    (YAML aliases counted each time they are used; shared nodes are counted once per use, without re-walking)."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError("", f"{what} nests mappings/lists deeper than {MAX_CONFIG_DEPTH} levels")
        if not isinstance(node, (dict, list)):
            return 1
        known = sizes.get(id(node))
        if known is not None:
            return known
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_CONFIG_NODES:
                raise ConfigError("", f"{what} holds more than {MAX_CONFIG_NODES} values (YAML aliases expanded)")
        sizes[id(node)] = total
        return total

    size(data, 0)


_FLOW_CHARS = re.compile(r"[\"'#\[\]{}]")
_SCALAR_START = " \t\r\n[{,:-?"


def _quote_end(text: str, start: int) -> int:
    """Index of the quote closing the quoted scalar opened at ``start`` (-1 when it is not closed)."""
    quote, i = text[start], start + 1
    while True:
        i = text.find(quote, i)
        if i < 0:
            return -1
        if quote == "'":
            if text.startswith("''", i):  # '' is an escaped quote
                i += 2
                continue
            return i
        j = i - 1
        while j > start and text[j] == "\\":
            j -= 1
        if (i - 1 - j) % 2 == 0:  # an even number of backslashes: the quote is not escaped
            return i
        i += 1


def _too_deep_flow_line(text: str) -> int | None:
    """The line where ``[ ]`` / ``{ }`` nesting first exceeds :data:`MAX_CONFIG_DEPTH`, else None.

    PyYAML needs quadratic time and Python's recursion for deep flow collections (a few thousand ``[`` take
    seconds and end in RecursionError), so they are counted before parsing; quoted scalars and comments are
    skipped. An unclosed quote ends the scan (the parser reports it).
    """
    depth, pos = 0, 0
    while (m := _FLOW_CHARS.search(text, pos)) is not None:
        i, c = m.start(), m.group()
        before = text[i - 1] if i else "\n"
        if c in "\"'":
            if before not in _SCALAR_START:  # an apostrophe inside a plain scalar
                pos = i + 1
                continue
            end = _quote_end(text, i)
            if end < 0:
                return None
            pos = end + 1
            continue
        if c == "#":
            if before in " \t\r\n":
                newline = text.find("\n", i)
                if newline < 0:
                    return None
                pos = newline
            else:
                pos = i + 1
            continue
        depth = depth + 1 if c in "[{" else max(0, depth - 1)
        if depth > MAX_CONFIG_DEPTH:
            return text.count("\n", 0, i) + 1
        pos = i + 1
    return None


def _parse_text(text: str, kind: str) -> Any:
    """Parse YAML or JSON text; every problem becomes a one-line ConfigError (no path, no source yet)."""
    line = _too_deep_flow_line(text) if kind == "yaml" else None
    if line is not None:
        raise ConfigError("", f"malformed YAML: brackets nested deeper than {MAX_CONFIG_DEPTH} levels at line {line}")
    try:
        data = json.loads(text, object_pairs_hook=_json_object) if kind == "json" else yaml.load(text, Loader=_Loader)
    except _DuplicateKeyError as exc:
        raise ConfigError("", str(exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError("", f"malformed YAML: {_yaml_problem(exc)}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError("", f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(
            "", f"malformed {kind.upper()}: nested deeper than {MAX_CONFIG_DEPTH} levels (too deep to parse)"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits, an impossible YAML date
        raise ConfigError("", f"malformed {kind.upper()}: {' '.join(str(exc).split())}") from None
    _check_shape(data, f"the {kind.upper()}")
    return data


def _read_mapping(path: Path) -> dict[str, Any]:
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ConfigError("", f"expected a .yaml, .yml or .json config file, got suffix '{path.suffix}'", path)
    if not path.exists():
        raise FileNotFoundError(f"config file {path} not found")
    if not path.is_file():
        raise ConfigError("", "expected a regular file", path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError("", f"cannot read the file: {exc.strerror or exc}", path) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            "", f"the file is larger than the {MAX_CONFIG_BYTES} bytes (256 KiB) a config file may have", path
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "", f"expected UTF-8 text, byte {exc.start} (0x{raw[exc.start]:02x}) is not valid UTF-8", path
        ) from None
    if "\x00" in text:
        raise ConfigError("", f"expected a text file, found a NUL byte at offset {text.index(chr(0))}", path)
    try:
        data = _parse_text(text, kind)
    except ConfigError as exc:
        raise exc.with_source(path) from None
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


def _resolve(path: Path, stack: tuple[Path, ...], reads: list[int]) -> dict[str, Any]:
    try:
        path = path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL in a _base_ name, ...
        raise ConfigError(BASE_KEY if stack else "", f"cannot resolve the path {str(path)!r}: {exc}") from None
    reads[0] += 1
    if reads[0] > MAX_BASE_FILES:
        raise ConfigError(
            BASE_KEY, f"the _base_ chain reads more than {MAX_BASE_FILES} files (the last: {path})", stack[0]
        )
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
            merged = _merge(merged, _resolve(_base_path(path, base), (*stack, path), reads))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"config file {path.parent / base} (the _base_ of {path}) not found, and {base!r} names no shipped "
                "config (see `enhancenet-spec list-configs`)"
            ) from None
    return _merge(merged, data)


def _base_path(path: Path, base: str) -> Path:
    """Where ``_base_: base`` of the file ``path`` points: a file relative to ``path`` when one exists, else a
    shipped config of that name (``.yaml`` optional), so a user's file can start from a shipped one by name."""
    local = path.parent / base
    if local.exists() or Path(base).name != base:
        return local
    try:
        return shipped_config_path(base)
    except FileNotFoundError:
        raise FileNotFoundError(base) from None  # named with its context by the caller


def load_config_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw nested mapping of a config file with its ``_base_`` chain merged in (not yet validated)."""
    return _resolve(Path(path), (), [0])


def _parse_override(item: str) -> tuple[list[str], Any]:
    if not isinstance(item, str) or "=" not in item:
        raise ConfigError("", f"expected an override of the form 'a.b.c=value', got {item!r}")
    key, _, text = item.partition("=")
    parts = key.strip().split(".")
    if not all(p.strip() for p in parts):
        raise ConfigError(key, f"expected a dotted field path like 'model.head.upscale', got {key!r}")
    try:
        value = _parse_text(text, "yaml")
    except ConfigError as exc:
        shown = repr(text) if len(text) <= 80 else f"{text[:60]!r}... ({len(text)} characters)"
        problem = exc.detail.removeprefix("malformed YAML: ")
        raise ConfigError(key.strip(), f"could not parse the override value {shown} as YAML: {problem}") from None
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
    """:func:`enhancenet_core.files.atomic_write_text`, creating the directory (mode ``0o666 & ~umask``)."""
    atomic_write_text(path, text, make_parents=True)


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

