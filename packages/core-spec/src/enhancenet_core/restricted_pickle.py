"""Reading a trusted pickle of arrays without letting it run code (``enhancenet-convert --trust-pickle``).

A pickle names the callables it calls on load; a state dict of NumPy arrays needs only NumPy's array and dtype
reconstructors and plain containers. :func:`load_array_pickle` resolves exactly those (:data:`ALLOWED_GLOBALS`)
and refuses any other name in one line, so even a file the user trusts cannot execute a payload. Framework
formats that are not such pickles (PyTorch's zip) use their own restricted loader (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

__all__ = ["ALLOWED_GLOBALS", "is_allowed_global", "load_array_pickle"]

#: ``(module, name)`` pairs a state dict of NumPy arrays refers to (NumPy 1.x and 2.x module names).
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
})


def is_allowed_global(module: str, name: str) -> bool:
    """Whether a pickle may name ``module.name``: :data:`ALLOWED_GLOBALS` or one of NumPy 2's dtype classes
    (``numpy.dtypes.Float32DType`` ...), which some writers record instead of ``numpy.dtype``."""
    return (module, name) in ALLOWED_GLOBALS or (module == "numpy.dtypes" and name.endswith("DType"))


class _ArrayUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, source: str) -> None:
        super().__init__(io.BytesIO(data))
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if not is_allowed_global(module, name):
            raise pickle.UnpicklingError(
                f"{self.source}: refers to {module}.{name}, which a state dict of arrays does not need "
                "(refused unrun)"
            )
        return super().find_class(module, name)


def load_array_pickle(path: str | os.PathLike[str]) -> Any:
    """The object of a pickle file holding arrays, dicts, lists and scalars only (e.g. Paddle's ``.pdparams``).

    Raises:
        ValueError: the file refers to any other callable (named; nothing of it runs), or is not a readable pickle.
    """
    source = os.fspath(path)
    with open(source, "rb") as fh:
        data = fh.read()
    try:
        return _ArrayUnpickler(data, source).load()
    except pickle.UnpicklingError as exc:
        raise ValueError(str(exc) if str(exc).startswith(source) else f"{source}: not a readable pickle ({exc})") \
            from exc
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, MemoryError) as exc:
        raise ValueError(f"{source}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
