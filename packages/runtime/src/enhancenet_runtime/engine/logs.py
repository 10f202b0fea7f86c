"""Training logs: a CSV of per-step losses that survives resume, and the progress bar."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from enhancenet_core.files import atomic_write_text

__all__ = ["LOG_FIELDS", "CsvLog", "progress_bar"]

LOG_FIELDS: tuple[str, ...] = ("epoch", "step", "loss", "loss_lr", "loss_hr", "lr", "seconds")
"""Columns of ``train_log.csv`` in every framework."""


class CsvLog:
    """Append-only CSV of per-step values; on resume, rows past the checkpoint's step are dropped first, so a
    killed and resumed run has the same log as one that never stopped.

    Args:
        path: the CSV file.
        resume_step: the step of the checkpoint resumed from, or ``None`` for a fresh run (truncates the file).
        fields: the columns.
    """

    def __init__(self, path: str | os.PathLike[str], resume_step: int | None, fields: Sequence[str] = LOG_FIELDS) -> None:
        self.path = Path(path)
        self.fields = tuple(fields)
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if r.get("step") and int(r["step"]) <= resume_step]
            text = io.StringIO(newline="")
            writer = csv.DictWriter(text, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_text(self.path, text.getvalue())
        else:
            with self.path.open("w", newline="") as fh:
                csv.DictWriter(fh, fieldnames=self.fields).writeheader()
        self._fh = self.path.open("a", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.fields)

    def write(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({k: row.get(k, "") for k in self.fields})
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CsvLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(iterable: Iterable[Any] | None = None, total: int | None = None, desc: str = "", initial: int = 0,
                 enabled: bool = True) -> Any:
    """A tqdm bar (with time estimate) when ``enabled`` and tqdm is installed; else a silent stand-in with the
    same ``update``/``set_postfix``/``close`` methods, iterating ``iterable`` unchanged."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency of the data extra
            enabled = False
        else:
            return tqdm(iterable, total=total, desc=desc, initial=initial, dynamic_ncols=True)
    return _SilentBar(iterable)


class _SilentBar:
    def __init__(self, iterable: Iterable[Any] | None) -> None:
        self._iterable = iterable

    def __iter__(self) -> Any:
        return iter(self._iterable if self._iterable is not None else ())

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass
