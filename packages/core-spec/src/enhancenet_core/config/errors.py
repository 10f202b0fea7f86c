"""The one error type of configuration input: :class:`ConfigError`, naming the field path and the file."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["ConfigError", "describe_value"]


class ConfigError(ValueError):
    """Invalid configuration. ``path`` is the dotted field path (``model.head.upscale``), ``source`` the file."""

    def __init__(self, path: str, message: str, source: str | os.PathLike[str] | None = None) -> None:
        self.path = path
        self.detail = message
        self.source = None if source is None else str(source)
        text = f"{path}: {message}" if path else message
        if self.source:
            text = f"{text} (in {self.source})"
        super().__init__(text)

    def with_source(self, source: str | os.PathLike[str]) -> ConfigError:
        """The same error, naming the file it came from (the innermost file wins)."""
        return self if self.source else ConfigError(self.path, self.detail, source)


def describe_value(value: Any) -> str:
    """``got <type> <repr>`` for an error message."""
    return f"got {type(value).__name__} {value!r}"
