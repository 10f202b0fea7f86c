"""The data sets we know, as data: one row of keypoint metadata per data set, in one table, read from files.

``data.dataset`` in a config file is a string: a shipped name (``coco``, ``mpii``, ``synthetic``, ``crowdpose``,
``ochuman``) or the path of a user's *data-set file* (``.yaml``/``.yml``/``.json``). Either way it stands for one
:class:`DatasetInfo` row, and everything downstream asks :func:`dataset_info` for it instead of comparing
names. A row holds

- the keypoints: names (their order is the channel order of the heat maps), K, left/right ``flip_pairs``,
  the ``skeleton`` (0-based limbs, for pictures), the ``upper_body_ids`` / ``lower_body_ids`` of HRNet's
  half-body augmentation, per-keypoint ``joint_weights`` (HRNet's / mmpose's loss weights, kept with the row);
- the evaluation: ``metric`` (COCO keypoint AP through OKS, the CrowdPose API's AP with easy/medium/hard, or
  MPII PCKh) and the per-keypoint ``oks_sigmas`` the AP needs;
- ``loader``: which record reader the runtime opens the annotation files with (COCO-format files or HRNet's
  MPII JSON);
- ``checks_num_keypoints``: whether config validation requires ``model.num_keypoints == K``.

The shipped rows are the files under ``enhancenet_core/dataset_files/`` (package data), read once at import
by the same parser as a user's file (:func:`load_dataset_file`), so the table and the files cannot disagree;
``synthetic`` is COCO's row with K left free. Every row is checked when it is built
(:meth:`DatasetInfo.__post_init__`); a file's errors name the file and the field. This module imports nothing
else of the spec.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

__all__ = [
    "DATASETS",
    "DATASET_FILE_FIELDS",
    "DATASET_FILE_SUFFIXES",
    "DatasetInfo",
    "DatasetName",
    "Metric",
    "RecordLoader",
    "dataset_info",
    "info_for_num_keypoints",
    "is_dataset_file",
    "load_dataset_file",
    "parse_dataset_mapping",
    "shipped_dataset_file",
]


class DatasetName(StrEnum):
    """The shipped data sets; the values are the strings of ``data.dataset`` in config files."""

    COCO = "coco"  # COCO person keypoints (HRNet directory layout)
    MPII = "mpii"  # MPII Human Pose (HRNet's JSON annotations)
    SYNTHETIC = "synthetic"  # the generated COCO-format stand-in (enhancenet_runtime.data.synthetic)
    CROWDPOSE = "crowdpose"  # CrowdPose: 14 keypoints, COCO-format files, the CrowdPose API's AP
    OCHUMAN = "ochuman"  # OCHuman: COCO's 17 keypoints and AP


class Metric(StrEnum):
    """How predictions are scored."""

    COCO_AP = "coco_ap"  # OKS-based keypoint AP (pycocotools and ours), with the row's oks_sigmas
    CROWDPOSE_AP = "crowdpose_ap"  # the CrowdPose API's AP (+ easy/medium/hard by crowdIndex), row's sigmas
    PCKH = "pckh"  # MPII PCKh from the head boxes of the records


class RecordLoader(StrEnum):
    """Which annotation reader of the runtime (``enhancenet_runtime.data``) turns files into records."""

    COCO = "coco"  # COCO-format keypoint files (data.train/test.annotations, else HRNet's layout under data.root)
    MPII = "mpii"  # HRNet's MPII JSON (data.train/test.annotations, else annot/<set>.json under data.root)


Pair = tuple[int, int]


@dataclass(frozen=True)
class DatasetInfo:
    """Keypoint and evaluation metadata of one data set. All indices are 0-based keypoint indices.

    Raises (when built):
        ValueError: naming the field, when names repeat, a pair or limb leaves ``[0, K)``, a keypoint appears
            in two flip pairs, ``oks_sigmas`` / ``joint_weights`` are not K positive numbers, or an AP metric
            has no sigmas.
    """

    name: str  # the data.dataset value (a file's row: its name field, else the file name)
    keypoint_names: tuple[str, ...]  # channel order of the heat maps; K = len(keypoint_names)
    flip_pairs: tuple[Pair, ...]  # (left, right) keypoints swapped by a horizontal flip
    skeleton: tuple[Pair, ...]  # limbs drawn between keypoints
    upper_body_ids: tuple[int, ...]  # HRNet's half-body augmentation: the upper body
    lower_body_ids: tuple[int, ...]  # ... and the lower body
    metric: Metric  # how predictions are scored
    loader: RecordLoader  # which record reader opens the annotation files
    oks_sigmas: tuple[float, ...] | None = None  # per-keypoint OKS σ (needed by the AP metrics)
    checks_num_keypoints: bool = True  # config validation requires model.num_keypoints == K
    joint_weights: tuple[float, ...] | None = None  # per-keypoint loss weights (None: 1 each)

    @property
    def num_keypoints(self) -> int:
        """K."""
        return len(self.keypoint_names)

    @property
    def flip_index(self) -> tuple[int, ...]:
        """``flip_index[k]``: the keypoint that ``k`` becomes in the mirror image (``k`` itself when unpaired)."""
        out = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            out[a], out[b] = b, a
        return tuple(out)

    def __post_init__(self) -> None:
        k = self.num_keypoints
        where = f"dataset {self.name!r}"
        if k < 1:
            raise ValueError(f"{where}: keypoint_names: expected at least one keypoint")
        if len(set(self.keypoint_names)) != k:
            dup = sorted({n for n in self.keypoint_names if self.keypoint_names.count(n) > 1})
            raise ValueError(f"{where}: keypoint_names: expected unique names, {dup} repeat")
        seen: dict[int, int] = {}
        for i, pair in enumerate(self.flip_pairs):
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"{where}: flip_pairs[{i}]: expected two different keypoints, got {pair}")
            for idx in pair:
                _check_index(idx, k, f"{where}: flip_pairs[{i}]")
                if idx in seen:
                    raise ValueError(f"{where}: flip_pairs[{i}]: keypoint {idx} already in flip_pairs[{seen[idx]}]")
                seen[idx] = i
        for i, limb in enumerate(self.skeleton):
            if len(limb) != 2:
                raise ValueError(f"{where}: skeleton[{i}]: expected two keypoints, got {limb}")
            for idx in limb:
                _check_index(idx, k, f"{where}: skeleton[{i}]")
        for field_name in ("upper_body_ids", "lower_body_ids"):
            ids = getattr(self, field_name)
            for idx in ids:
                _check_index(idx, k, f"{where}: {field_name}")
            if len(set(ids)) != len(ids):
                raise ValueError(f"{where}: {field_name}: expected unique keypoints, got {list(ids)}")
        for field_name in ("oks_sigmas", "joint_weights"):
            values = getattr(self, field_name)
            if values is not None and (len(values) != k or not all(math.isfinite(s) and s > 0 for s in values)):
                raise ValueError(
                    f"{where}: {field_name}: expected {k} positive numbers (one per keypoint), got {list(values)}"
                )
        if self.oks_sigmas is None and self.metric in (Metric.COCO_AP, Metric.CROWDPOSE_AP):
            raise ValueError(
                f"{where}: oks_sigmas: the COCO keypoint AP needs one σ per keypoint "
                f"(metric {self.metric.value}), got none"
            )


def _check_index(idx: int, k: int, where: str) -> None:
    if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < k:
        raise ValueError(f"{where}: expected a keypoint index in [0, {k - 1}] (K={k}), got {idx!r}")


# ----------------------------------------------------------------------------------------------------------
# Data-set files
# ----------------------------------------------------------------------------------------------------------

#: File name endings that make a ``data.dataset`` value a data-set file rather than a shipped name.
DATASET_FILE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")

#: The keys of a data-set file: the fields of :class:`DatasetInfo` except ``checks_num_keypoints`` (always true).
DATASET_FILE_FIELDS: tuple[str, ...] = (
    "name", "keypoint_names", "flip_pairs", "skeleton", "upper_body_ids", "lower_body_ids", "joint_weights",
    "oks_sigmas", "metric", "loader",
)  # fmt: skip
_REQUIRED = ("keypoint_names",)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when built in: ~10x faster, the shipped files are read at import) that also
    reads ``2.6e-2`` as a float (YAML 1.1 would read it as a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def is_dataset_file(value: str | os.PathLike[str]) -> bool:
    """Whether a ``data.dataset`` value names a data-set file (by its ending) rather than a shipped row."""
    return str(value).lower().endswith(DATASET_FILE_SUFFIXES)


class _FieldError(ValueError):
    """A bad value of one field of a data-set file (``field`` is its path inside the file)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _got(value: Any) -> str:
    return f"got {type(value).__name__} {value!r}"


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list):
        raise _FieldError(key, f"expected a list, {_got(value)}")
    return value


def _keypoint(ref: Any, names: Sequence[str], where: str) -> int:
    """A keypoint given by name or 0-based index -> index (indices are range-checked by the row)."""
    if isinstance(ref, str):
        if ref in names:
            return names.index(ref)
        close = difflib.get_close_matches(ref, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise _FieldError(where, f"unknown keypoint name {ref!r}{hint}")
    if isinstance(ref, bool) or not isinstance(ref, int):
        raise _FieldError(where, f"expected a keypoint name or a 0-based index, {_got(ref)}")
    return ref


def _pairs(data: Mapping[str, Any], key: str, names: Sequence[str]) -> tuple[Pair, ...]:
    out = []
    for i, pair in enumerate(_list(data, key)):
        if isinstance(pair, str) or not isinstance(pair, list) or len(pair) != 2:
            raise _FieldError(f"{key}[{i}]", f"expected a list of two keypoints (names or indices), {_got(pair)}")
        out.append((_keypoint(pair[0], names, f"{key}[{i}][0]"), _keypoint(pair[1], names, f"{key}[{i}][1]")))
    return tuple(out)


def _numbers(data: Mapping[str, Any], key: str) -> tuple[float, ...] | None:
    if data.get(key) is None:
        return None
    values = _list(data, key)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _FieldError(f"{key}[{i}]", f"expected a number, {_got(v)}")
    return tuple(float(v) for v in values)


def _choice(data: Mapping[str, Any], key: str, enum: type[StrEnum], default: StrEnum) -> Any:
    value = data.get(key, default.value)
    try:
        return enum(value)
    except ValueError:
        raise _FieldError(key, f"expected one of {[m.value for m in enum]}, {_got(value)}") from None


def parse_dataset_mapping(data: Any, default_name: str) -> DatasetInfo:
    """The row of a data-set file's contents (a mapping of :data:`DATASET_FILE_FIELDS`).

    Keypoints in ``flip_pairs``, ``skeleton`` and the body-id lists are names of ``keypoint_names`` or 0-based
    indices; ``joint_weights`` and ``oks_sigmas`` may be left out (or ``null``); ``metric`` defaults to
    ``coco_ap`` and ``loader`` to ``coco``.

    Raises:
        ValueError: ``<field>: expected ...`` for an unknown or missing key or a bad value.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a mapping of data-set fields at the top level, {_got(data)}")
    for key in data:
        if key not in DATASET_FILE_FIELDS:
            close = difflib.get_close_matches(str(key), DATASET_FILE_FIELDS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise _FieldError(str(key), f"unknown key; allowed keys: {', '.join(DATASET_FILE_FIELDS)}{hint}")
    for key in _REQUIRED:
        if key not in data:
            raise _FieldError(key, "missing (the K keypoint names, in heat-map channel order)")
    names = _list(data, "keypoint_names")
    for i, n in enumerate(names):
        if not isinstance(n, str) or not n:
            raise _FieldError(f"keypoint_names[{i}]", f"expected a non-empty name, {_got(n)}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise _FieldError("name", f"expected a non-empty string, {_got(name)}")
    body = {
        key: tuple(_keypoint(r, names, f"{key}[{i}]") for i, r in enumerate(_list(data, key)))
        for key in ("upper_body_ids", "lower_body_ids")
    }
    fields = {
        "flip_pairs": _pairs(data, "flip_pairs", names),
        "skeleton": _pairs(data, "skeleton", names),
        "joint_weights": _numbers(data, "joint_weights"),
        "oks_sigmas": _numbers(data, "oks_sigmas"),
        "metric": _choice(data, "metric", Metric, Metric.COCO_AP),
        "loader": _choice(data, "loader", RecordLoader, RecordLoader.COCO),
    }
    try:
        return DatasetInfo(name=name, keypoint_names=tuple(names), **body, **fields)
    except ValueError as exc:  # the row's own checks name the field after "dataset '<name>': "
        raise ValueError(str(exc).removeprefix(f"dataset {name!r}: ")) from None


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"dataset file {path} not found")
    return path.read_text(encoding="utf-8")


def _parse_text(text: str, source: str, suffix: str, default_name: str) -> DatasetInfo:
    try:
        data = json.loads(text) if suffix == ".json" else yaml.load(text, Loader=_Loader)  # a SafeLoader
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(f"dataset file {source}: malformed {suffix[1:].upper()}: {detail}") from None
    try:
        return parse_dataset_mapping(data, default_name)
    except ValueError as exc:
        raise ValueError(f"dataset file {source}: {exc}") from None


@functools.lru_cache(maxsize=64)
def _load_cached(resolved: str, mtime_ns: int, size: int, shown: str) -> DatasetInfo:
    path = Path(resolved)
    return _parse_text(_read_text(path), shown, path.suffix.lower(), path.stem)


def load_dataset_file(path: str | os.PathLike[str]) -> DatasetInfo:
    """The row of a user's data-set file (YAML ``.yaml``/``.yml`` or JSON ``.json``; relative paths are taken
    from the working directory). Parsed once per file version (cached by path, size and modification time).

    Raises:
        FileNotFoundError: ``dataset file <path> not found``.
        ValueError: one line, ``dataset file <path>: <field>: expected ...``.
    """
    p = Path(path)
    if not is_dataset_file(p):
        raise ValueError(f"dataset file {p}: expected a {', '.join(DATASET_FILE_SUFFIXES)} file")
    if not p.is_file():
        raise FileNotFoundError(f"dataset file {p} not found")
    st = p.stat()
    return _load_cached(str(p.resolve()), st.st_mtime_ns, st.st_size, str(p))


def shipped_dataset_file(name: DatasetName | str) -> Path:
    """The package-data file of a shipped row (``dataset_files/<name>.yaml``; ``synthetic`` uses COCO's)."""
    stem = DatasetName(name).value if name != DatasetName.SYNTHETIC else DatasetName.COCO.value
    return Path(str(resources.files("enhancenet_core") / "dataset_files" / f"{stem}.yaml"))


def _shipped(name: DatasetName) -> DatasetInfo:
    ref = resources.files("enhancenet_core") / "dataset_files" / f"{name.value}.yaml"
    info = _parse_text(ref.read_text(encoding="utf-8"), f"{name.value}.yaml (shipped)", ".yaml", name.value)
    if info.name != name.value:
        raise ValueError(f"dataset file {name.value}.yaml (shipped): name: expected {name.value!r}, got {info.name!r}")
    return info


_COCO = _shipped(DatasetName.COCO)

#: The table: one row per shipped data set, read from the shipped files. Rows differ in data only; no code
#: branches on the names.
DATASETS: Mapping[DatasetName, DatasetInfo] = MappingProxyType({
    DatasetName.COCO: _COCO,
    DatasetName.MPII: _shipped(DatasetName.MPII),
    # COCO's keypoints; K is not bound by the config (as before the table: a wrong K is reported by the
    # flip-pair check or when the generated records are read).
    DatasetName.SYNTHETIC: dataclasses.replace(_COCO, name="synthetic", checks_num_keypoints=False),
    DatasetName.CROWDPOSE: _shipped(DatasetName.CROWDPOSE),
    DatasetName.OCHUMAN: _shipped(DatasetName.OCHUMAN),
})  # fmt: skip


def dataset_info(name: DatasetName | str | os.PathLike[str]) -> DatasetInfo:
    """The row of ``name``: a :class:`DatasetName` (or its string) from the table, or a data-set file's row
    (a value ending in ``.yaml``/``.yml``/``.json``, read by :func:`load_dataset_file`).

    Raises:
        ValueError: ``data.dataset: expected one of [...] or a data-set file ...`` for an unknown name; a bad
            file's one-line error (``dataset file <path>: <field>: ...``).
        FileNotFoundError: a data-set file that does not exist.
    """
    if isinstance(name, DatasetName):
        return DATASETS[name]
    if isinstance(name, os.PathLike) or is_dataset_file(name):
        return load_dataset_file(name)
    try:
        return DATASETS[DatasetName(name)]
    except ValueError:
        raise ValueError(
            f"data.dataset: expected one of {[d.value for d in DatasetName]} or a data-set file "
            f"({', '.join(DATASET_FILE_SUFFIXES)}), got {name!r}"
        ) from None


def info_for_num_keypoints(num_keypoints: int) -> DatasetInfo | None:
    """The first row (table order) with K = ``num_keypoints``, or None: for code that only knows K (e.g. a
    picture of a model's output without its config)."""
    for info in DATASETS.values():
        if info.num_keypoints == num_keypoints:
            return info
    return None
