"""Checks of evaluation inputs, shared by the COCO and MPII evaluators: a bad file is refused with one
message naming the file, the annotation (index and ``id``) and the field, never evaluated into a number
that pycocotools or the MPII toolkit would not give.

COCO ground truth (:func:`check_coco_gt`), per annotation:

* ``id`` present, an integer, unique in the file (pycocotools indexes annotations by id, so a
  duplicate makes it evaluate one annotation twice and the other never);
* ``image_id`` an image of ``images`` and ``category_id`` a category of ``categories`` (pycocotools would
  silently drop the annotation; the same mistake in a result file is refused too);
* ``keypoints`` 3·K finite numbers (K from the categories' ``keypoints`` names, the same for every
  category that names them);
* ``area`` (when given) a finite number > 0, ``bbox`` (when given) four finite numbers with w, h > 0
  (pycocotools divides by the area and doubles the box of a ground truth without labelled keypoints);
* ``iscrowd`` 0/1 and ``num_keypoints`` an integer ≥ 0 when given;

and the ``id`` of every image and category unique.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CocoGtNumbers",
    "check_coco_gt",
    "finite_numbers",
    "id_set",
    "infer_num_keypoints",
    "is_member",
    "read_json_file",
]


def read_json_file(path: str | os.PathLike[str], what: str) -> Any:
    """Parse a JSON file; FileNotFoundError / ValueError naming ``what`` and the file on any failure
    (missing file, not UTF-8, not JSON, truncated, nested too deeply)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} file {p} not found")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} file {p}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} file {p} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{what} file {p}: JSON nested too deeply to be an annotation file") from None


def finite_numbers(value: Any, size: int | None, where: str, field: str) -> np.ndarray:
    """``value`` as a float64 vector of ``size`` finite numbers; ValueError naming ``where`` and ``field``.

    Booleans, strings and nested lists are refused (NumPy would turn ``"1"`` or ``True`` into 1.0)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        arr = np.asarray([], dtype=object)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf" or (size is not None and arr.size != size):
        want = f"{size} numbers" if size is not None else "a list of numbers"
        got = f"{arr.size} numbers" if arr.ndim == 1 and arr.dtype.kind in "iuf" else repr(value)[:60]
        raise ValueError(f"{where}: '{field}' must be {want}, got {got}")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ValueError(f"{where}: '{field}' has a non-finite value ({out[bad]}) at position {bad}")
    return out


def _is_id(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def id_set(entries: list[Any], source: str, key: str) -> set[Any]:
    """The ``id`` of every object in ``entries`` (the ground truth's ``images`` or ``categories``), each an
    integer and unique; ValueError naming ``source``, ``key`` and the entry otherwise."""
    ids: set[Any] = set()
    for i, e in enumerate(entries):
        if not isinstance(e, Mapping) or not _is_id(e.get("id")):
            got = e.get("id") if isinstance(e, Mapping) else type(e).__name__
            raise ValueError(f"{source}: {key} #{i} needs an integer 'id', got {got!r}")
        if e["id"] in ids:
            raise ValueError(f"{source}: {key} #{i} repeats id {e['id']!r} (ids must be unique)")
        ids.add(e["id"])
    return ids


def is_member(value: Any, ids: set[Any]) -> bool:
    """``value in ids``, False for an unhashable value."""
    try:
        return value in ids
    except TypeError:  # unhashable (a list, a dict)
        return False


def check_keypoint_names(gt: Mapping[str, Any], source: str) -> None:
    """Every category that names its keypoints names the same number (the evaluators use one K)."""
    sizes = {}
    for c in gt["categories"]:
        names = c.get("keypoints")
        if names is not None:
            if not isinstance(names, list):
                raise ValueError(f"{source}: category {c['id']!r} 'keypoints' must be a list of names")
            sizes[c["id"]] = len(names)
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{source}: the categories name different numbers of keypoints {sizes}; "
                         "one K per file is supported")


def _where(source: str, i: int, ann: Mapping[str, Any]) -> str:
    return f"{source}: annotation #{i} (id {ann.get('id')!r})"


def check_coco_annotation(ann: Any, i: int, img_ids: set[Any], cat_ids: set[Any], seen: set[Any],
                          source: str) -> None:
    """The non-numeric checks of one ground-truth annotation (see the module docstring)."""
    if not isinstance(ann, Mapping):
        raise ValueError(f"{source}: annotation #{i} is not an object")
    if "id" not in ann:
        raise ValueError(f"{source}: annotation #{i} has no 'id'")
    aid = ann["id"]
    where = _where(source, i, ann)
    if not _is_id(aid):
        raise ValueError(f"{where}: 'id' must be an integer")
    if aid in seen:
        raise ValueError(f"{where}: 'id' {aid!r} is used by an earlier annotation (ids must be unique; "
                         "pycocotools would evaluate one of them twice)")
    seen.add(aid)
    if not is_member(ann.get("image_id"), img_ids):
        raise ValueError(f"{where}: 'image_id' {ann.get('image_id')!r} is not an image of 'images'")
    if not is_member(ann.get("category_id"), cat_ids):
        raise ValueError(f"{where}: 'category_id' {ann.get('category_id')!r} is not one of the categories "
                         f"{sorted(cat_ids, key=str)}")
    if ann.get("keypoints") is None:
        raise ValueError(f"{where}: 'keypoints' must be a list of numbers, got none")
    if "iscrowd" in ann and ann["iscrowd"] not in (0, 1):
        raise ValueError(f"{where}: 'iscrowd' must be 0 or 1, got {ann['iscrowd']!r}")
    nk = ann.get("num_keypoints")
    if "num_keypoints" in ann and (not isinstance(nk, int) or isinstance(nk, bool) or nk < 0):
        raise ValueError(f"{where}: 'num_keypoints' must be an integer >= 0, got {nk!r}")


def _numeric_field(anns: list[Any], field: str, size: int, source: str, wrap: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, values)``: the annotations that give ``field`` and its values ``(n, size)``, all finite; the
    fast path converts every row at once, the slow one (only on a bad value) names the first bad annotation."""
    rows = np.asarray([j for j, a in enumerate(anns) if a.get(field) is not None], dtype=np.int64)
    raw = [[anns[j][field]] if wrap else anns[j][field] for j in rows.tolist()]
    try:
        arr = np.asarray(raw) if raw else np.zeros((0, size))
    except (ValueError, TypeError):
        arr = np.asarray([], dtype=object)
    if arr.dtype.kind in "iuf" and arr.shape == (rows.size, size) and np.all(np.isfinite(arr)):
        return rows, arr.astype(np.float64, copy=False)
    for j, value in zip(rows.tolist(), raw, strict=True):  # say which one is wrong
        finite_numbers(value, size, _where(source, j, anns[j]), field)
    raise ValueError(f"{source}: '{field}' values are not numbers")  # pragma: no cover  (caught above)


def infer_num_keypoints(gt: Mapping[str, Any]) -> int:
    """K of a COCO keypoint ground truth: from the categories' ``keypoints`` names, else the annotations."""
    for cat in gt["categories"]:
        names = cat.get("keypoints") if isinstance(cat, Mapping) else None
        if names:
            return len(names)
    for ann in gt["annotations"]:
        kp = ann.get("keypoints") if isinstance(ann, Mapping) else None
        if isinstance(kp, list) and kp:
            return len(kp) // 3
    raise ValueError(
        "ground truth: cannot tell the number of keypoints (no category 'keypoints' names and no annotation keypoints)"
    )


def _annotations_pass(anns: list[Any], img_ids: set[Any], cat_ids: set[Any]) -> bool:
    """True when every annotation passes :func:`check_coco_annotation`, decided column by column (a few
    C-speed passes instead of one Python call per annotation). Conservative: False means "run the
    per-annotation checks" (which name the first bad annotation), not "bad"; any unusual type says False."""
    try:
        if any(type(a) is not dict for a in anns):
            return False
        ids = [a["id"] for a in anns]
        if set(map(type, ids)) - {int} or len(set(ids)) != len(ids):
            return False
        if not ({a.get("image_id") for a in anns} <= img_ids and {a.get("category_id") for a in anns} <= cat_ids):
            return False
        if any(a.get("keypoints") is None for a in anns):
            return False
        crowd = [a["iscrowd"] for a in anns if "iscrowd" in a]
        if set(map(type, crowd)) - {int, bool} or set(crowd) - {0, 1}:
            return False
        nk = [a["num_keypoints"] for a in anns if "num_keypoints" in a]
        return not (set(map(type, nk)) - {int} or (nk and min(nk) < 0))
    except (KeyError, TypeError, ValueError):  # a missing id, an unhashable image_id, ...
        return False


@dataclass(frozen=True)
class CocoGtNumbers:
    """The numeric fields of a checked ground truth, in file order (A annotations).

    Attributes:
        keypoints: ``(A, 3K)`` float64.
        area: ``(A,)`` float64, NaN where ``area`` is absent (or null).
        bbox: ``(A, 4)`` float64 ``[x, y, w, h]``, NaN where ``bbox`` is absent (or null).
    """

    keypoints: np.ndarray
    area: np.ndarray
    bbox: np.ndarray


def check_coco_gt(gt: Mapping[str, Any], source: str = "ground truth") -> CocoGtNumbers:
    """Check a COCO keypoint ground truth (see the module docstring); returns its numeric fields as arrays
    (:class:`CocoGtNumbers`), converted once. ValueError naming ``source``, the annotation and the field."""
    img_ids = id_set(gt["images"], source, "image")
    cat_ids = id_set(gt["categories"], source, "category")
    check_keypoint_names(gt, source)
    num_keypoints = infer_num_keypoints(gt)
    anns = gt["annotations"]
    if not _annotations_pass(anns, img_ids, cat_ids):
        seen: set[Any] = set()
        for i, a in enumerate(anns):
            check_coco_annotation(a, i, img_ids, cat_ids, seen, source)
    _, kps = _numeric_field(anns, "keypoints", 3 * num_keypoints, source)
    rows, area = _numeric_field(anns, "area", 1, source, wrap=True)
    for j in rows[area[:, 0] <= 0][:1].tolist():
        raise ValueError(f"{_where(source, j, anns[j])}: 'area' must be > 0, got {anns[j]['area']!r} "
                         "(OKS divides by it)")
    area_all = np.full(len(anns), np.nan)
    area_all[rows] = area[:, 0]
    rows, box = _numeric_field(anns, "bbox", 4, source)
    for j in rows[(box[:, 2] <= 0) | (box[:, 3] <= 0)][:1].tolist():
        raise ValueError(f"{_where(source, j, anns[j])}: 'bbox' [x, y, w, h] needs w, h > 0, got {anns[j]['bbox']}")
    box_all = np.full((len(anns), 4), np.nan)
    box_all[rows] = box
    return CocoGtNumbers(keypoints=kps.reshape(len(anns), 3 * num_keypoints), area=area_all, bbox=box_all)
