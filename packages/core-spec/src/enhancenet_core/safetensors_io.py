"""The safetensors file format, byte-exact and with NumPy alone (no ``safetensors`` library, no pickle).

Writing is deterministic (tensors in the given order, metadata keys sorted, compact ASCII JSON header padded to
8 bytes; the ``safetensors`` library orders its metadata by hash) and atomic (:mod:`enhancenet_core.files`).
Reading validates the whole header (dtypes, shapes, offsets inside the file and not overlapping) before any
tensor is returned. :mod:`enhancenet_core.canonical` builds the canonical weight file on top of this.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.files import atomic_write_bytes

__all__ = [
    "PICKLE_SUFFIXES",
    "PickleRefusedError",
    "check_not_pickle",
    "pickle_kind",
    "read_canonical_metadata",
    "read_safetensors",
    "safetensors_bytes",
    "save_safetensors",
]

#: suffixes of pickle-based files (PyTorch, Paddle, plain pickle): refused without being opened
PICKLE_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".pdparams", ".pdckpt", ".pdopt", ".pkl", ".pickle")
#: how to turn a trusted pickle file into safetensors, named in every refusal
CONVERT_HINT = "enhancenet-convert {path} {stem}.safetensors --trust-pickle"
#: the pickle weight files the converter reads behind --trust-pickle (torch .pt/.pth, paddle .pdparams)
CONVERTIBLE_PICKLE_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".pdparams")


class PickleRefusedError(ValueError):
    """A pickle file was passed where enhancenet reads only safetensors (loading it could run its code)."""

#: NumPy dtype name -> safetensors dtype code (the types NumPy can hold; BF16 and FP8 have no NumPy type).
_CODES: dict[str, str] = {
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
    "int8": "I8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "uint8": "U8",
    "uint16": "U16",
    "uint32": "U32",
    "uint64": "U64",
    "bool": "BOOL",
}
_DTYPES: dict[str, np.dtype] = {code: np.dtype(name).newbyteorder("<") for name, code in _CODES.items()}
_MAX_HEADER = 100_000_000  # the safetensors library's own limit on the JSON header


def safetensors_bytes(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """Serialize to the safetensors format deterministically.

    Tensors are stored in the given order, the metadata keys sorted, the JSON header compact (ASCII) and
    padded with spaces to a multiple of 8 bytes; data little-endian and C-contiguous.

    Raises:
        ValueError: a metadata key or value that is not a string, or a dtype safetensors cannot store.
    """
    header: dict[str, Any] = {}
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise ValueError(f"safetensors metadata must map str to str; offending keys: {bad}")
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    chunks: list[bytes] = []
    offset = 0
    for name, array in tensors.items():
        a = np.asarray(array)
        if a.dtype.name not in _CODES:
            raise ValueError(f"tensor {name!r}: dtype {a.dtype} cannot be stored (supported: {sorted(_CODES)})")
        data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _CODES[a.dtype.name], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save_safetensors(
    path: str | os.PathLike[str], tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> Path:
    """Deterministic (:func:`safetensors_bytes`), atomic write; the directory must exist."""
    return atomic_write_bytes(path, safetensors_bytes(tensors, metadata))


def pickle_kind(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is taken for a pickle file (its suffix, or a pickle / zip signature in its first bytes that
    is not a safetensors header, or a zip archive with a ``.pkl`` member), else ``None``. Reads the first 16
    bytes (and a zip's member names); nothing is unpickled."""
    p = Path(path)
    if p.suffix.lower() in PICKLE_SUFFIXES:
        return f"suffix {p.suffix}"
    try:
        with p.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if len(head) >= 9 and head[8:9] == b"{":  # an 8-byte header length, then the JSON header: safetensors
        return None
    if head.startswith(b"PK\x03\x04"):  # torch.save's zip holds a pickle; an .npz holds none
        try:
            with zipfile.ZipFile(p) as zf:  # reads the member names only
                pickled = any(name.endswith(".pkl") for name in zf.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            return None  # not a readable zip: the format's own reader refuses it
        return "a zip archive holding a pickle, as torch.save writes" if pickled else None
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return f"pickle protocol {head[1]} signature"
    return None


def check_not_pickle(path: str | os.PathLike[str]) -> None:
    """Raise :class:`PickleRefusedError` (one line: the file, why, the safe format and how to convert a trusted
    file) when ``path`` is a pickle file; never unpickles anything."""
    kind = pickle_kind(path)
    if kind is not None:
        p = Path(path)
        stem = p.with_suffix("") if p.suffix != ".safetensors" else p.with_name(f"{p.stem}.converted")
        why = (f"{p}: refused: a pickle file ({kind}); loading it could run code it contains. enhancenet reads "
               f"weights and checkpoints only as .safetensors. ")
        if p.suffix.lower() in CONVERTIBLE_PICKLE_SUFFIXES:
            raise PickleRefusedError(why + "If you trust this file, convert it once: "
                                     + CONVERT_HINT.format(path=p, stem=stem))
        raise PickleRefusedError(why + "enhancenet-convert --trust-pickle reads trusted "
                                 f"{'/'.join(CONVERTIBLE_PICKLE_SUFFIXES)} weight files only; save this file's "
                                 "weights in one of those with the framework that wrote it, then convert that")


def _read_header(fh: Any, path: Path) -> tuple[dict[str, Any], int]:
    raw = fh.read(8)
    if len(raw) != 8:
        raise ValueError(f"{path}: not a readable safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", raw)
    if n > _MAX_HEADER:
        raise ValueError(f"{path}: not a readable safetensors file (header length {n})")
    text = fh.read(n)
    if len(text) != n:
        raise ValueError(f"{path}: not a readable safetensors file (header of {n} bytes is cut short)")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable safetensors file (header is not JSON: {exc})") from exc
    except RecursionError:
        raise ValueError(f"{path}: not a readable safetensors file (header JSON nested too deeply)") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: not a readable safetensors file (header is not a JSON object)")
    return header, 8 + n


def read_canonical_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (only the header is read).

    Raises:
        FileNotFoundError: no such file.
        PickleRefusedError: a pickle file (not opened beyond its signature).
        ValueError: not a safetensors file (naming it).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file {p} not found")
    check_not_pickle(p)
    with p.open("rb") as fh:
        header, _ = _read_header(fh, p)
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{p}: not a readable safetensors file (__metadata__ is not an object)")
    return {str(k): str(v) for k, v in meta.items()}


def read_safetensors(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors in file order, metadata) of a safetensors file, read with NumPy alone.

    Every header entry is checked (known dtype, non-negative integer shape, ``data_offsets`` inside the file,
    of the size the shape and dtype need, not overlapping) before any tensor is read. The arrays are
    writable, native-endian copies.

    Raises:
        FileNotFoundError: no such file.
        PickleRefusedError: a pickle file (not opened beyond its signature).
        ValueError: not a readable safetensors file, or a tensor of a type NumPy cannot hold (BF16), naming
            the file and the tensor.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file {p} not found")
    check_not_pickle(p)
    size = p.stat().st_size
    with p.open("rb") as fh:
        header, start = _read_header(fh, p)
        meta = header.pop("__metadata__", None) or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ValueError(f"{p}: not a readable safetensors file (__metadata__ must map str to str)")
        entries: list[tuple[str, np.dtype, tuple[int, ...], int, int]] = []
        for name, info in header.items():
            try:
                code, shape, (lo, hi) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
            except (TypeError, KeyError, ValueError) as exc:
                raise ValueError(f"{p}: not a readable safetensors file (tensor {name!r}: bad entry {info!r})") from exc
            if code not in _DTYPES:
                raise ValueError(f"{p}: tensor {name!r} has dtype {code!r}, which NumPy cannot read "
                                 f"(supported: {sorted(_DTYPES)})")
            if not all(isinstance(d, int) and d >= 0 for d in shape) or not all(isinstance(o, int) for o in (lo, hi)):
                raise ValueError(f"{p}: not a readable safetensors file (tensor {name!r}: bad shape or offsets)")
            dtype = _DTYPES[code]
            if hi - lo != math.prod(shape) * dtype.itemsize or lo < 0 or start + hi > size:
                raise ValueError(f"{p}: not a readable safetensors file (tensor {name!r}: data_offsets {[lo, hi]} "
                                 f"do not fit shape {list(shape)} of {code} in a file of {size} bytes)")
            entries.append((name, dtype, shape, lo, hi))
        spans = sorted((lo, hi, name) for name, _, _, lo, hi in entries)
        for (_, hi_a, a), (lo_b, _, b) in itertools.pairwise(spans):
            if lo_b < hi_a:
                raise ValueError(f"{p}: not a readable safetensors file (tensors {a!r} and {b!r} overlap)")
        tensors: dict[str, np.ndarray] = {}
        for name, dtype, shape, lo, _hi in entries:
            fh.seek(start + lo)
            count = math.prod(shape)
            arr = np.fromfile(fh, dtype=dtype, count=count) if count else np.empty(0, dtype)
            tensors[name] = arr.astype(dtype.newbyteorder("="), copy=False).reshape(shape)
    return tensors, dict(meta)


