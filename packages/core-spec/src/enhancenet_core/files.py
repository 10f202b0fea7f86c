"""Atomic file writes (standard library only: the config imports this without NumPy), written once for every package (the spec, numpy-ref, the runtime and the frameworks).

Nothing is overwritten on failure: data goes to a temporary file in the target directory, is flushed and
fsynced, and then replaces the target with :func:`os.replace` (atomic on POSIX and Windows). Every file gets
the mode ``open(path, "w")`` would give it (``0o666 & ~umask``, i.e. 0644 under the usual umask), never the
0600 of the temporary file.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_write_with",
    "json_default",
    "remove_stale_temp_files",
    "usual_file_mode",
]

#: the temporary files of :func:`atomic_write_with`: ``.<target name>.<8 random characters of mkstemp>.tmp``
#: (optionally followed by one more suffix a writer insists on, e.g. MindSpore's ``.tmp.ckpt``)
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp(?:\.[A-Za-z0-9]+)?$")


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

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            fh.write(data)

    return atomic_write_with(path, write, make_parents=make_parents)


def atomic_write_with(
    path: str | os.PathLike[str], write: Callable[[Path], object], make_parents: bool = False, suffix: str = ".tmp"
) -> Path:
    """Atomically create ``path`` with a writer that needs a file name (``torch.onnx.export``,
    ``mindspore.save_checkpoint``, ...): ``write(tmp)`` fills ``tmp`` (an empty file, or one it replaces) in the
    target directory, which is then given the usual mode, fsynced and ``os.replace``-d over ``path``.

    The temporary file is named ``.<name>.XXXXXXXX<suffix>`` (``suffix``: ``.tmp``, or ``.tmp.<ext>`` for a writer
    that insists on its extension); it is removed on any error, and one left by a killed process is removed by
    :func:`remove_stale_temp_files`.

    Raises:
        FileNotFoundError: the directory does not exist (and ``make_parents`` is false).
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    if not _TEMP_NAME.match(f".{path.name}.abcdefgh{suffix}"):
        raise ValueError(f"temporary-file suffix must be .tmp or .tmp.<ext>, got {suffix!r}")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, usual_file_mode())  # also makes a writer's read-only file (save_checkpoint: 0400) writable
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            os.chmod(tmp, 0o600)
            tmp.unlink()
        raise
    return path


def remove_stale_temp_files(directory: str | os.PathLike[str], names: tuple[str, ...] | None = None) -> list[Path]:
    """Remove the temporary files an interrupted :func:`atomic_write_with` left in ``directory``
    (``.<name>.XXXXXXXX.tmp[.<ext>]``; only those of the target ``names`` when given). Call it when a run starts, before
    anything writes there. Returns the files removed; nothing else is touched.
    """
    d = Path(directory)
    removed: list[Path] = []
    if not d.is_dir():
        return removed
    for entry in d.iterdir():
        match = _TEMP_NAME.match(entry.name)
        if match is None or (names is not None and match.group("target") not in names):
            continue
        if entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return sorted(removed)


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
