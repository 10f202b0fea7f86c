"""Adapters: one module per implementation. Adding an implementation = adding one module to ``ADAPTERS``.

A module may serve several keys (MindSpore: ``mindspore`` in PYNATIVE_MODE, ``mindspore-graph`` in GRAPH_MODE);
it then lists them in ``ADAPTER_KEYS`` and its ``make_adapter(key)`` takes the key.

:func:`load_adapters` imports the ones whose framework is importable in the running interpreter and gives
the reason for each one that is not (the report lists it as "not run: <reason>").
"""

from __future__ import annotations

import importlib

from conformance.adapters.base import Adapter, NotSupportedError

#: implementation key -> (adapter module, distribution it needs)
ADAPTERS: dict[str, tuple[str, str]] = {
    "numpy": ("conformance.adapters.numpy_ref", "enhancenet_numpy"),
    "torch": ("conformance.adapters.torch_impl", "enhancenet_torch"),
    "paddle": ("conformance.adapters.paddle_impl", "enhancenet_paddle"),
    "mindspore": ("conformance.adapters.mindspore_impl", "enhancenet_mindspore"),
    "mindspore-graph": ("conformance.adapters.mindspore_impl", "enhancenet_mindspore"),
}


def load_adapter(name: str) -> Adapter:
    """Import and build one adapter; ImportError (with the reason) when its implementation is not here."""
    module_name, package = ADAPTERS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or "?"
        if missing == module_name:
            raise ImportError(f"no conformance adapter {module_name} yet") from exc
        raise ImportError(f"{missing} is not importable in this interpreter (needs {package})") from exc
    if name in getattr(module, "ADAPTER_KEYS", ()):
        return module.make_adapter(name)
    return module.make_adapter()


def load_adapters(names: list[str] | None = None) -> tuple[dict[str, Adapter], dict[str, str]]:
    """(present adapters by key, reason by key for each one that cannot run here)."""
    present: dict[str, Adapter] = {}
    absent: dict[str, str] = {}
    for name in names or list(ADAPTERS):
        try:
            present[name] = load_adapter(name)
        except ImportError as exc:
            absent[name] = str(exc)
    return present, absent


__all__ = ["ADAPTERS", "Adapter", "NotSupportedError", "load_adapter", "load_adapters"]
