"""Atomic file writes (standard library only: the config imports this without NumPy), written once for every package (the spec, numpy-ref, the runtime and the frameworks).

Nothing is overwritten on failure: data goes to a temporary file in the target directory, is flushed and
fsynced, and then replaces the target with :func:`os.replace` (atomic on POSIX and Windows). Every file gets
the mode ``open(path, "w")`` would give it (``0o666 & ~umask``, i.e. 0644 under the usual umask), never the
0600 of the temporary file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "json_default", "usual_file_mode"]


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes | bytearray | memoryview, make_parents: bool = False
) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``.

    A reader sees the old file or the new one, never a partial one; on any error the old file is left as it
    was and the temporary file is removed. The new file gets the usual permissions (``0o666 & ~umask``, as
    ``open`` would give it), not the 0600 of the temporary file.

    Raises:
        FileNotFoundError: the directory does not exist (and ``make_parents`` is false).
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, usual_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def usual_file_mode() -> int:
    """``0o666 & ~umask``: the mode ``open(path, "w")`` gives a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike[str], text: str, make_parents: bool = False) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 ``text``."""
    return atomic_write_bytes(path, text.encode("utf-8"), make_parents=make_parents)


def json_default(obj: Any) -> Any:
    """JSON encoder fallback for NumPy scalars/arrays, paths and enums."""
    np = sys.modules.get("numpy")  # NumPy values exist only once NumPy is imported; importing this module must not
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    if np is not None and isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    value = getattr(obj, "value", None)
    if isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def atomic_write_json(path: str | os.PathLike[str], obj: Any, make_parents: bool = True) -> Path:
    """Write ``obj`` as indented JSON, atomically (NumPy values, paths and enums converted)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=json_default) + "\n", make_parents=make_parents)
