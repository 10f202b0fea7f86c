"""MPII PCKh by the official protocol, the HRNet legacy "Mean@0.1" value and the PCKh-vs-α curve.

Dimensions: N people, J = 16 MPII joints, T thresholds. Joints are ``(N, J, 2)`` with last axis (x, y).

Protocol (MPII ``evaluatePCKh.m``, HRNet ``lib/dataset/mpii.py``):

* head size ``h = SC_BIAS · ‖head_box[1] − head_box[0]‖`` with ``SC_BIAS = 0.6`` (0.6 × the diagonal of
  the head box);
* normalized error ``e = ‖pred − gt‖ / h``; a visible joint is correct at threshold α when ``e ≤ α``
  (:attr:`TieRule.LE`, MATLAB and HRNet). mmpose 1.x counts ``e < α`` (:attr:`TieRule.LT`); the two differ
  only for errors exactly on the threshold;
* per-joint PCKh = 100 · correct / visible; the groups are the mean of the left and right joint values
  (Head = head top 9; Sho 12/13; Elb 11/14; Wri 10/15; Hip 2/3; Knee 1/4; Ank 0/5);
* Mean = over all visible joints except pelvis (6) and thorax (7), masked by position; this equals
  HRNet's ``sum(PCKh · jnt_ratio)`` (upper neck 8 is in the mean but in no group);
* PCKh@0.5 and PCKh@0.1 use exactly 0.5 and 0.1. HRNet prints "Mean@0.1" from ``pckAll[11]`` of
  ``np.arange(0, 0.51, 0.01)``, i.e. α = 0.11; we report it separately as ``pckh_legacy_hrnet_0.1``.
* HRNet adds 1 to its 0-based predictions because MPII's ground truth (``.mat`` and the HRNet JSON) is
  MATLAB 1-based: :attr:`CoordinateBase.ZERO_BASED_PREDICTIONS` does that; the default
  :attr:`CoordinateBase.SAME` compares as given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.metrics.validation import read_json_file

#: MPII joint order (HRNet / MPII ``.mat``).
MPII_JOINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)  # fmt: skip
NUM_MPII_JOINTS: int = 16
#: Head-size factor of the official protocol.
SC_BIAS: float = 0.6
#: Joints left out of the mean (pelvis, thorax), by position.
MEAN_EXCLUDED_JOINTS: tuple[int, ...] = (6, 7)
#: Table groups: name -> joint indices (one or a left/right pair).
PCKH_GROUPS: dict[str, tuple[int, ...]] = {
    "Head": (9,),
    "Shoulder": (12, 13),
    "Elbow": (11, 14),
    "Wrist": (10, 15),
    "Hip": (2, 3),
    "Knee": (1, 4),
    "Ankle": (0, 5),
}
#: Short column names of the PCKh table.
PCKH_COLUMNS: tuple[str, ...] = ("Head", "Sho", "Elb", "Wri", "Hip", "Knee", "Ank", "Mean")
#: HRNet's threshold grid; ``HRNET_THRESHOLDS[11]`` (≈ 0.11) is its "Mean@0.1".
HRNET_THRESHOLDS: np.ndarray = np.arange(0, 0.5 + 0.01, 0.01)
HRNET_LEGACY_INDEX: int = 11
LEGACY_KEY: str = "pckh_legacy_hrnet_0.1"
#: α grid of the PCKh curve (Fig. 5): 0, 0.01, …, 0.5, each the double nearest to i/100.
CURVE_ALPHAS: np.ndarray = np.arange(51) / 100.0


class TieRule(StrEnum):
    """How a normalized error equal to the threshold counts."""

    LE = "le"  # e <= alpha: MPII MATLAB toolkit, HRNet
    LT = "lt"  # e < alpha: mmpose 1.x


class CoordinateBase(StrEnum):
    """Index base of predictions relative to the ground truth."""

    SAME = "same"  # compare as given
    ZERO_BASED_PREDICTIONS = "zero_based_predictions"  # predictions 0-based, GT MATLAB 1-based: add 1 (HRNet)


def head_sizes_from_boxes(head_boxes: np.ndarray, sc_bias: float = SC_BIAS) -> np.ndarray:
    """Head sizes ``sc_bias · ‖corner2 − corner1‖``.

    Args:
        head_boxes: ``(N, 2, 2)`` corners ``[[x1, y1], [x2, y2]]``, or ``(N, 4)`` ``[x1, y1, x2, y2]``.
            (MPII's ``headboxes_src`` in ``gt_valid.mat`` is ``(2, 2, N)``: transpose it with
            ``np.transpose(h, (2, 0, 1))``.)

    Returns:
        ``(N,)`` head sizes in pixels.
    """
    hb = np.asarray(head_boxes, dtype=np.float64)
    if hb.ndim == 2 and hb.shape[1] == 4:
        hb = hb.reshape(-1, 2, 2)
    if hb.ndim != 3 or hb.shape[1:] != (2, 2):
        raise ValueError(f"head_boxes: expected shape (N, 2, 2) or (N, 4), got {hb.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(hb), axis=(1, 2)))
    if bad.size:
        raise ValueError(f"head_boxes: person {int(bad[0])} has a non-finite head box {hb[bad[0]].tolist()}")
    sizes = np.linalg.norm(hb[:, 1, :] - hb[:, 0, :], axis=-1) * sc_bias
    bad = np.flatnonzero(~(sizes > 0))
    if bad.size:
        raise ValueError(f"head_boxes: person {int(bad[0])} has a zero-size head box {hb[bad[0]].tolist()} "
                         "(corners [[x1, y1], [x2, y2]] must differ)")
    return sizes


@dataclass(frozen=True)
class PCKhResult:
    """PCKh values (percent).

    Attributes:
        thresholds: ``(T,)`` the α asked for (default 0.5 and 0.1).
        per_joint: ``(T, J)`` PCKh of each joint (NaN for a joint never visible).
        joint_counts: ``(J,)`` visible joints.
        groups: ``{α: {"Head": .., "Shoulder": .., ..., "Mean": ..}}``.
        legacy_hrnet_0_1: HRNet's "Mean@0.1" (mean at α = ``HRNET_THRESHOLDS[11]`` ≈ 0.11).
        curve_alphas: ``(51,)`` α = 0 … 0.5; curve_per_joint ``(51, J)``; curve_mean ``(51,)``.
    """

    thresholds: np.ndarray
    per_joint: np.ndarray
    joint_counts: np.ndarray
    groups: dict[float, dict[str, float]]
    legacy_hrnet_0_1: float
    curve_alphas: np.ndarray
    curve_per_joint: np.ndarray
    curve_mean: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        """Flat JSON-friendly summary: ``pckh@0.5``, ``pckh@0.1`` (means), the groups, the legacy value."""
        out: dict[str, Any] = {}
        for a, g in self.groups.items():
            out[f"pckh@{a:g}"] = g["Mean"]
            out[f"groups@{a:g}"] = dict(g)
        out[LEGACY_KEY] = self.legacy_hrnet_0_1
        return out


def normalized_errors(
    pred: np.ndarray,
    gt: np.ndarray,
    head_sizes: np.ndarray,
    coordinate_base: CoordinateBase = CoordinateBase.SAME,
) -> np.ndarray:
    """``‖pred − gt‖ / head_size`` per joint.

    Args:
        pred: ``(N, J, 2|3)`` predictions (x, y[, score]); gt: ``(N, J, 2|3)``; head_sizes: ``(N,)``.

    Returns:
        ``(N, J)`` normalized errors.
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] not in (2, 3):
        raise ValueError(f"pred: expected shape (N, J, 2|3) with last axis (x, y[, score]), got {p.shape}")
    if g.ndim != 3 or g.shape[-1] not in (2, 3):
        raise ValueError(f"gt: expected shape (N, J, 2|3), got {g.shape}")
    if p.shape[:2] != g.shape[:2]:
        raise ValueError(f"pred {p.shape[:2]} and gt {g.shape[:2]} must have the same (N, J)")
    bad = np.argwhere(~np.isfinite(p[..., :2]))
    if bad.size:
        n, j = (int(v) for v in bad[0, :2])
        raise ValueError(f"pred: person {n} joint {j} ({MPII_JOINT_NAMES[j] if p.shape[1] == NUM_MPII_JOINTS else j}) "
                         f"is not finite ({p[n, j, :2].tolist()}); a prediction must be a number, not a miss marker")
    h = np.asarray(head_sizes, dtype=np.float64).reshape(-1)
    if h.size != p.shape[0]:
        raise ValueError(f"head_sizes: expected {p.shape[0]} values (one per person), got {h.size}")
    if not np.all(np.isfinite(h)) or np.any(h <= 0):
        bad = np.flatnonzero(~np.isfinite(h) | (h <= 0))[:5].tolist()
        raise ValueError(f"head_sizes: must be finite and > 0; bad at people {bad}")
    xy = p[..., :2] + (
        1.0 if CoordinateBase(coordinate_base) is CoordinateBase.ZERO_BASED_PREDICTIONS else 0.0
    )
    return np.linalg.norm(xy - g[..., :2], axis=-1) / h[:, None]


def _pck_at(
    err: np.ndarray, visible: np.ndarray, alphas: np.ndarray, tie: TieRule
) -> tuple[np.ndarray, np.ndarray]:
    """Correct counts ``(T, J)`` and visible counts ``(J,)``."""
    a = np.asarray(alphas, dtype=np.float64).reshape(-1, 1, 1)
    hit = (err[None] <= a) if tie is TieRule.LE else (err[None] < a)
    correct = np.count_nonzero(hit & visible[None], axis=1)
    return correct, np.count_nonzero(visible, axis=0)


def _summaries(correct: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint PCKh ``(T, J)`` and the pelvis/thorax-excluded mean ``(T,)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = 100.0 * correct / counts
        keep = np.ones(counts.size, dtype=bool)
        keep[list(MEAN_EXCLUDED_JOINTS)] = False
        mean = 100.0 * correct[:, keep].sum(axis=1) / counts[keep].sum()
    return per_joint, mean


def compute_pckh(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    head_sizes: np.ndarray | None = None,
    head_boxes: np.ndarray | None = None,
    thresholds: Sequence[float] = (0.5, 0.1),
    tie: TieRule | str = TieRule.LE,
    coordinate_base: CoordinateBase | str = CoordinateBase.SAME,
) -> PCKhResult:
    """MPII PCKh (see the module docstring for the protocol).

    Args:
        pred: ``(N, 16, 2|3)`` predictions (x, y[, score]).
        gt: ``(N, 16, 2|3)`` ground truth.
        visible: ``(N, 16)`` joints to evaluate (MPII ``1 − jnt_missing``; HRNet JSON ``joints_vis``).
        head_sizes: ``(N,)`` head sizes in pixels (already × SC_BIAS), or
        head_boxes: ``(N, 2, 2)`` / ``(N, 4)`` head boxes; exactly one of the two.
        thresholds: α values to report (exactly those; the legacy 0.11 value is always added separately).
        tie: :class:`TieRule` (default ``LE``, the official one).
        coordinate_base: :class:`CoordinateBase` (default ``SAME``).
    """
    if (head_sizes is None) == (head_boxes is None):
        raise ValueError(
            "PCKh needs head sizes: pass exactly one of head_sizes (N,) or head_boxes (N, 2, 2); "
            "MPII's head boxes are in its annotation .mat files (e.g. HRNet's gt_valid.mat 'headboxes_src')"
        )
    h = (
        head_sizes_from_boxes(head_boxes)
        if head_boxes is not None
        else np.asarray(head_sizes, dtype=np.float64)
    )
    tie = TieRule(tie)
    err = normalized_errors(pred, gt, h, CoordinateBase(coordinate_base))
    n, j = err.shape
    if j != NUM_MPII_JOINTS:
        raise ValueError(f"pred/gt: expected J = {NUM_MPII_JOINTS} MPII joints, got {j}")
    vis = np.asarray(visible)
    if vis.shape != (n, j):
        raise ValueError(f"visible: expected shape ({n}, {j}), got {vis.shape}")
    vis = vis > 0
    bad = np.argwhere(vis & ~np.all(np.isfinite(np.asarray(gt, dtype=np.float64)[..., :2]), axis=-1))
    if bad.size:
        raise ValueError(f"gt: person {int(bad[0, 0])} joint {int(bad[0, 1])} is visible but not finite")
    alphas = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    correct, counts = _pck_at(err, vis, alphas, tie)
    per_joint, mean = _summaries(correct, counts)
    groups: dict[float, dict[str, float]] = {}
    for ti, a in enumerate(alphas.tolist()):
        row = {name: float(np.mean(per_joint[ti, list(idx)])) for name, idx in PCKH_GROUPS.items()}
        row["Mean"] = float(mean[ti])
        groups[a] = row
    c_correct, _ = _pck_at(err, vis, CURVE_ALPHAS, tie)
    curve_per_joint, curve_mean = _summaries(c_correct, counts)
    l_correct, _ = _pck_at(err, vis, HRNET_THRESHOLDS[HRNET_LEGACY_INDEX : HRNET_LEGACY_INDEX + 1], tie)
    _, legacy = _summaries(l_correct, counts)
    return PCKhResult(
        thresholds=alphas,
        per_joint=per_joint,
        joint_counts=counts,
        groups=groups,
        legacy_hrnet_0_1=float(legacy[0]),
        curve_alphas=CURVE_ALPHAS.copy(),
        curve_per_joint=curve_per_joint,
        curve_mean=curve_mean,
    )


# ---------------------------------------------------------------------------- files

PathLike = str | os.PathLike


@dataclass(frozen=True)
class MpiiGroundTruth:
    """MPII ground truth read from a file: joints ``(N, 16, 2)``, visible ``(N, 16)`` bool, and
    head boxes ``(N, 2, 2)`` when the file has them (the official ``.mat``), else ``None``."""

    joints: np.ndarray
    visible: np.ndarray
    head_boxes: np.ndarray | None


def load_mpii_gt(path: PathLike) -> MpiiGroundTruth:
    """Read MPII ground truth: HRNet-style JSON (list of ``{joints, joints_vis, ...}``; no head boxes) or
    the official/HRNet ``gt_*.mat`` (``pos_gt_src`` (16, 2, N), ``jnt_missing`` (16, N),
    ``headboxes_src`` (2, 2, N)). Coordinates are returned as stored (MATLAB 1-based in both)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"MPII ground truth file {p} not found")
    if p.suffix.lower() == ".mat":
        m = _load_mat(p, "MPII ground truth")
        for key in ("pos_gt_src", "jnt_missing", "headboxes_src"):
            if key not in m:
                raise ValueError(
                    f"MPII ground truth {p}: missing '{key}' (expected HRNet's gt_valid.mat layout)"
                )
        joints = np.transpose(np.asarray(m["pos_gt_src"], dtype=np.float64), (2, 0, 1))
        visible = np.transpose(1 - np.asarray(m["jnt_missing"]), (1, 0)) > 0
        boxes = np.transpose(np.asarray(m["headboxes_src"], dtype=np.float64), (2, 0, 1))
        return MpiiGroundTruth(joints, visible, boxes)
    data = read_json_file(p, "MPII ground truth")
    if not isinstance(data, list) or not data:
        raise ValueError(f"MPII ground truth {p}: expected a non-empty JSON list of people")
    joints, vis = [], []
    for i, e in enumerate(data):
        if not isinstance(e, Mapping) or "joints" not in e or "joints_vis" not in e:
            raise ValueError(f"MPII ground truth {p}: entry #{i} needs 'joints' and 'joints_vis'")
        try:
            jt = np.asarray(e["joints"], dtype=np.float64)
            jv = np.asarray(e["joints_vis"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"MPII ground truth {p}: entry #{i} 'joints' / 'joints_vis' must be numbers") from None
        if jt.shape != (NUM_MPII_JOINTS, 2) or jv.shape != (NUM_MPII_JOINTS,):
            raise ValueError(
                f"MPII ground truth {p}: entry #{i} has joints {jt.shape} / joints_vis {jv.shape}; "
                f"expected ({NUM_MPII_JOINTS}, 2) / ({NUM_MPII_JOINTS},)"
            )
        joints.append(jt)
        vis.append(jv > 0)
    return MpiiGroundTruth(np.stack(joints), np.stack(vis), None)


def load_array(path: PathLike, what: str, key: str | None = None) -> np.ndarray:
    """Read an array from ``.npy``, ``.json`` (a nested list, or an object holding ``key``), ``.mat``
    (variable ``key``) or text (``np.loadtxt``)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} file {p} not found")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{what} file {p}: not a readable .npy array of numbers ({exc})") from None
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{what} file {p}: expected an array of numbers, got dtype {arr.dtype}")
        return arr.astype(np.float64)
    if suffix == ".json":
        data = read_json_file(p, what)
        if isinstance(data, Mapping):
            if key is None or key not in data:
                raise ValueError(f"{what} file {p}: a JSON object must hold the array under '{key}'")
            data = data[key]
        try:
            return np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what} file {p}: expected a rectangular array of numbers ({exc})") from exc
    if suffix == ".mat":
        m = _load_mat(p, what)
        if key is None or key not in m:
            raise ValueError(f"{what} file {p}: no variable '{key}'")
        try:
            return np.asarray(m[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{what} file {p}: variable '{key}' is not an array of numbers") from None
    try:
        return np.loadtxt(p, dtype=np.float64)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} file {p}: not a text table of numbers ({str(exc).splitlines()[0]})") from None


def _load_mat(p: Path, what: str) -> dict[str, Any]:
    """A MATLAB file's variables; ValueError naming the file when scipy cannot read it."""
    from scipy.io import loadmat

    try:
        return loadmat(p)
    except Exception as exc:  # scipy raises many types for a damaged file; all mean "not a .mat we can read"
        raise ValueError(f"{what} file {p}: not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None


def evaluate_mpii_files(
    gt_path: PathLike,
    preds: PathLike | np.ndarray,
    head_sizes: PathLike | np.ndarray | None = None,
    head_boxes: PathLike | np.ndarray | None = None,
    thresholds: Sequence[float] = (0.5, 0.1),
    tie: TieRule | str = TieRule.LE,
    coordinate_base: CoordinateBase | str = CoordinateBase.SAME,
) -> PCKhResult:
    """PCKh of predictions against an MPII ground-truth file.

    Head sizes come from ``head_sizes`` ((N,) file or array), ``head_boxes`` ((N, 2, 2) / (N, 4), or
    (2, 2, N) from a ``.mat`` ``headboxes_src``), or the ground-truth ``.mat``. The HRNet JSON has no head
    boxes: without one of these a ``ValueError`` says so (no head size is ever guessed).

    ``preds``: ``(N, 16, 2|3)`` array or file (``.npy``, ``.json`` list or ``{"preds": ...}``, HRNet's
    ``pred.mat`` with ``preds``).
    """
    gt = load_mpii_gt(gt_path)
    if head_sizes is not None and head_boxes is not None:
        raise ValueError("pass head_sizes or head_boxes, not both")
    hs = hb = None
    if head_sizes is not None:
        hs = (
            load_array(head_sizes, "head sizes", key="head_sizes")
            if isinstance(head_sizes, str | os.PathLike)
            else head_sizes
        )
        hs = np.asarray(hs, dtype=np.float64).reshape(-1)
    elif head_boxes is not None:
        hb = (
            load_array(head_boxes, "head boxes", key="headboxes_src")
            if isinstance(head_boxes, str | os.PathLike)
            else head_boxes
        )
        hb = np.asarray(hb, dtype=np.float64)
        if hb.ndim == 3 and hb.shape[:2] == (2, 2) and hb.shape[2] != 2:
            hb = np.transpose(hb, (2, 0, 1))
    elif gt.head_boxes is not None:
        hb = gt.head_boxes
    else:
        raise ValueError(
            f"MPII ground truth {gt_path} has no head boxes (the HRNet-style JSON never does): pass head sizes "
            "(--head-sizes, (N,) pixels) or head boxes (--head-boxes, (N, 2, 2)), or evaluate against gt_valid.mat"
        )
    p = (
        load_array(preds, "predictions", key="preds")
        if isinstance(preds, str | os.PathLike)
        else np.asarray(preds)
    )
    source = f"predictions {preds}" if isinstance(preds, str | os.PathLike) else "predictions"
    if p.ndim != 3 or p.shape[0] != gt.joints.shape[0]:
        raise ValueError(
            f"{source}: expected shape ({gt.joints.shape[0]}, 16, 2|3) to match the ground truth, got {p.shape}"
        )
    try:
        return compute_pckh(
            p,
            gt.joints,
            gt.visible,
            head_sizes=hs,
            head_boxes=hb,
            thresholds=thresholds,
            tie=tie,
            coordinate_base=coordinate_base,
        )
    except ValueError as exc:
        raise ValueError(f"{source} against {gt_path}: {exc}") from None


def format_pckh_table(result: PCKhResult) -> str:
    """The PCKh table: one row per α (Head Sho Elb Wri Hip Knee Ank Mean) and the legacy HRNet value."""
    names = [*list(PCKH_GROUPS), "Mean"]
    lines = ["| alpha | " + " | ".join(PCKH_COLUMNS) + " |", "|---" * (len(PCKH_COLUMNS) + 1) + "|"]
    for a, row in result.groups.items():
        lines.append(f"| {a:g} | " + " | ".join(f"{row[n]:.2f}" for n in names) + " |")
    lines.append(
        f"HRNet legacy 'Mean@0.1' (really alpha = {HRNET_THRESHOLDS[HRNET_LEGACY_INDEX]:.2f}), "
        f"{LEGACY_KEY}: {result.legacy_hrnet_0_1:.2f}"
    )
    return "\n".join(lines)
