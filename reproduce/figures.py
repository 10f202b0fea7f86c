"""Figures 5 and 7 as PNG (matplotlib, Agg), written atomically. Fig. 1 comes from the framework's
``predict`` verb (enhancenet_runtime.engine.visualize) and is only copied into place."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from enhancenet_runtime.engine.io import atomic_write_bytes

__all__ = ["plot_error_change", "plot_pck_curves"]


def _save(fig: object, path: str | os.PathLike[str]) -> Path:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return atomic_write_bytes(path, buf.getvalue(), make_parents=True)


def plot_pck_curves(
    thresholds: np.ndarray, curves: Mapping[str, Mapping[str, np.ndarray]], path: str | os.PathLike[str],
    title: str = "",
) -> Path:
    """Fig. 5: one panel per group (``curves[label][group]`` is (T,) PCK in [0, 1]); a line per label.

    Args:
        thresholds: (T,) fractions of the box size.
        curves: e.g. ``{"base model": {"head": ..., "ankle": ..., "mean": ...}, "+EnhanceNet": {...}}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(next(iter(curves.values())).keys())
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 3.4), squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        for label, by_group in curves.items():
            ax.plot(thresholds, 100 * np.asarray(by_group[group]), label=label,
                    linestyle="-" if "Enhance" in label else "--")
        ax.set_title(group)
        ax.set_xlabel("threshold (fraction of box size)")
        ax.set_ylabel("PCK (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_error_change(change: Mapping[str, float], path: str | os.PathLike[str], title: str = "",
                      spread: Mapping[str, float] | None = None, order: Sequence[str] | None = None) -> Path:
    """Fig. 7: bars of the change in each error type's frequency (percentage points, with minus without).

    Green marks an improvement (more "good" predictions, fewer errors of any other type), red a deterioration.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(order or change.keys())
    vals = np.asarray([100 * change[n] for n in names])
    err = None if spread is None else np.asarray([100 * spread.get(n, 0.0) for n in names])
    fig, ax = plt.subplots(figsize=(5, 3.4))
    better = [(v >= 0) if n == "good" else (v <= 0) for n, v in zip(names, vals, strict=True)]
    ax.bar(names, vals, yerr=err, color=["tab:green" if b else "tab:red" for b in better], capsize=3)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("frequency change (points)\ngreen: better, red: worse")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
