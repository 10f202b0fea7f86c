"""JSON Schema (draft 2020-12) of config files, generated from the dataclasses of
:mod:`enhancenet_core.config.schema` and the range rules of :mod:`enhancenet_core.config.rules`."""

from __future__ import annotations

import ast
import functools
import inspect
import io
import tokenize
import types
import typing
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

import enhancenet_core.config.schema as _schema_module
from enhancenet_core.config.decode import _hints, _to_plain
from enhancenet_core.config.files import BASE_KEY
from enhancenet_core.config.rules import rule_for
from enhancenet_core.config.schema import Config

__all__ = ["config_json_schema"]

_SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"


@functools.cache
def _module_field_comments() -> dict[str, dict[str, str]]:
    """``{class name: {field: trailing comment}}`` for the dataclasses of the schema module (read once)."""
    try:
        source = inspect.getsource(_schema_module)
    except (OSError, TypeError):  # pragma: no cover - e.g. a frozen application without sources
        return {}
    comments = {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }
    out: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = {
                item.target.id: comments[item.end_lineno or item.lineno]
                for item in node.body
                if isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and (item.end_lineno or item.lineno) in comments
            }
    return out


def _field_comments(cls: type) -> dict[str, str]:
    """Trailing ``# comment`` of each field line of ``cls`` (empty when the source is unavailable)."""
    return _module_field_comments().get(cls.__name__, {})


def _type_schema(tp: Any, path: str, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    rule = rule_for(path)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(a, path, defs) for a in typing.get_args(tp)]}
    if tp is type(None):
        return {"type": "null"}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type_schema(args[0], path, defs)}
        return {
            "type": "array",
            "prefixItems": [_type_schema(a, path, defs) for a in args],
            "items": False,
            "minItems": len(args),
            "maxItems": len(args),
        }
    if is_dataclass(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # placeholder against recursion
            defs[tp.__name__] = _dataclass_schema(tp, path, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    base = {bool: "boolean", int: "integer", float: "number", str: "string"}[tp]
    out: dict[str, Any] = {"type": base}
    if rule is not None and tp is not bool:
        out.update(rule.schema())
    return out


def _dataclass_schema(cls: type, path: str, defs: dict[str, Any]) -> dict[str, Any]:
    hints = _hints(cls)
    comments = _field_comments(cls)
    props: dict[str, Any] = {}
    instance = cls()
    for f in fields(cls):
        sub = f"{path}.{f.name}" if path else f.name
        prop = _type_schema(hints[f.name], sub, defs)
        if f.name in comments:
            prop["description"] = comments[f.name]
        prop["default"] = _to_plain(getattr(instance, f.name))
        props[f.name] = prop
    doc = inspect.getdoc(cls) or ""
    return {
        "type": "object",
        "description": doc.strip(),
        "properties": props,
        "additionalProperties": False,
    }


def config_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a config file, generated from the dataclasses.

    Types, enum values, defaults, per-field ranges and ``additionalProperties: false`` at every level;
    descriptions come from the field comments. The top level also allows ``_base_``. Cross-field rules (input
    size divisible by the stride and by the base model's :func:`required_input_multiple`, flip pairs within K,
    ...) are not expressible here: :func:`load_config` checks them.
    """
    defs: dict[str, Any] = {}
    root = _dataclass_schema(Config, "", defs)
    root["properties"][BASE_KEY] = {
        "description": "file(s) this config starts from, relative to it; merged recursively before this file",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    }
    return {
        "$schema": _SCHEMA_URI,
        "$id": "https://github.com/enhancenet/enhancenet/schemas/config.schema.json",
        "title": "EnhanceNet experiment config",
        **root,
        "$defs": defs,
    }
