"""Test support: crafted pickle files whose loading would run code, for every framework's no-unpickling tests.

Not used by the library. :func:`write_payload` writes a file that, if anything unpickled it, would create a
marker file (``__reduce__`` -> ``os.system("touch MARKER")``), in the formats a user might pass: a plain pickle
(``pickle.dump``, as ``paddle.save`` writes), a zip archive holding ``data.pkl`` (as ``torch.save`` writes) and
either one under a ``.safetensors`` name. :func:`assert_refused` checks the one-line refusal and that the marker
was never created. No framework and no pytest import.
"""

from __future__ import annotations

import io
import os
import pickle
import shlex
import zipfile
from pathlib import Path

__all__ = ["PAYLOAD_KINDS", "assert_refused", "payload_files", "write_payload"]

#: ``plain``: pickle protocol 4 (``paddle.save``); ``zip``: ``archive/data.pkl`` in a zip (``torch.save``)
PAYLOAD_KINDS = ("plain", "zip")


class _RunsCode:
    """Unpickling this calls ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


def write_payload(path: str | os.PathLike[str], marker: str | os.PathLike[str], kind: str = "plain") -> Path:
    """Write to ``path`` a pickle whose loading would create ``marker``; returns ``path``."""
    path = Path(path)
    data = pickle.dumps({"state_dict": _RunsCode(f"touch {shlex.quote(os.fspath(marker))}")}, protocol=4)
    if kind == "plain":
        path.write_bytes(data)
    elif kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("archive/data.pkl", data)
            zf.writestr("archive/version", "3\n")
        path.write_bytes(buf.getvalue())
    else:
        raise ValueError(f"kind must be one of {PAYLOAD_KINDS}, got {kind!r}")
    return path


def payload_files(directory: str | os.PathLike[str], suffixes: tuple[str, ...], marker: str | os.PathLike[str]) -> list[Path]:
    """One payload per (suffix, kind) in ``directory`` (``payload_<kind><suffix>``), plus each kind disguised as
    ``disguised_<kind>.safetensors``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = [write_payload(d / f"payload_{kind}{suffix}", marker, kind) for suffix in suffixes for kind in PAYLOAD_KINDS]
    out += [write_payload(d / f"disguised_{kind}.safetensors", marker, kind) for kind in PAYLOAD_KINDS]
    return out


def assert_refused(message: str, path: str | os.PathLike[str], marker: str | os.PathLike[str]) -> None:
    """``message`` is the one-line pickle refusal naming ``path``, the safe format and the opt-in, and
    ``marker`` does not exist (the payload did not run)."""
    if Path(marker).exists():
        raise AssertionError(f"the payload in {path} ran: {marker} exists")
    text = message.strip()
    if "\n" in text:
        raise AssertionError(f"expected one line, got {len(text.splitlines())}:\n{text}")
    for word in (Path(path).name, "pickle", ".safetensors", "--trust-pickle"):
        if word not in text:
            raise AssertionError(f"refusal of {path} lacks {word!r}: {text}")
