"""COCO person keypoints -> :class:`~enhancenet_runtime.data.records.PoseRecord`, as HRNet's ``lib/dataset/coco.py``.

Training (and testing with ``use_gt_bbox``) reads ground-truth boxes:

* an annotation is skipped when it is a crowd (``iscrowd``), not a person, has ``area <= 0``, has a box
  that lies entirely outside the image, or has no keypoint annotated (HRNet: ``max(keypoints) == 0``);
  every skip is counted by reason in :attr:`LoadResult.skipped` and logged, never silent;
* each kept box is clipped to the image and shrunk by one pixel exactly as HRNet does
  (``x1 = max(0, x)``, ``x2 = min(W - 1, x1 + max(0, w - 1))``, box ``(x1, y1, x2 - x1, y2 - y1)``); boxes that
  reached outside the image are counted in :attr:`LoadResult.clipped`;
* ``center``/``scale`` come from :func:`enhancenet_core.transforms.box_to_center_scale` with the input patch's
  aspect ratio, ``pixel_std`` (200) and the ×1.25 enlargement (HRNet's ``_box2cs``). HRNet stores them in
  float32; ours are float64 (differences ≤ ~1e-5 px);
* an annotation without an ``area`` field gets the box area ``w * h`` (counted in :attr:`LoadResult.notes`);
* joints are ``(x, y, min(v, 1))``: COCO's v=1 (labelled, occluded) and v=2 (visible) both count as visible.

Testing reads a detector result file (SimpleBaseline/HRNet format: a JSON list of
``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``): person boxes with ``score >= image_thre`` (HRNet
drops ``score < image_thre``), used as given (no clipping, no shrink), with ``center``/``scale`` as above.

Images are named by the ``file_name`` field of the annotation file's ``images`` table (not by HRNet's
``%012d.jpg`` rule), so the sample data and the synthetic data set read unchanged.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.config import Config
from enhancenet_core.transforms import BBOX_SCALE_FACTOR, PIXEL_STD, box_to_center_scale
from enhancenet_runtime.data.records import PoseRecord, check_image_files

__all__ = [
    "LoadResult",
    "coco_paths",
    "coco_split_paths",
    "load_coco_det_records",
    "load_coco_gt_records",
    "load_coco_records",
    "read_coco",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    """Records read from an annotation or detection file, and what was left out.

    Attributes:
        records: the kept instances, in file order (the ``images`` table, then each image's annotations, for
            ground truth; detection-file order for detections), as HRNet.
        skipped: reason -> number of annotations/detections left out (only reasons that occurred).
        clipped: number of kept ground-truth boxes that reached outside the image and were clipped.
        source: the file the records came from.
        notes: other counted fix-ups, e.g. ``area_from_box``: annotations without an ``area`` field whose
            area was taken from the box ``w * h`` (some non-COCO files have none).
    """

    records: tuple[PoseRecord, ...]
    skipped: Mapping[str, int] = field(default_factory=dict)
    clipped: int = 0
    source: Path = Path()
    notes: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)


def _load_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    try:
        with path.open("r", encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {path} is not valid JSON: {exc}") from exc


def read_coco(ann_file: str | os.PathLike[str]) -> Any:
    """Load a COCO annotation file into a ``pycocotools.coco.COCO`` index (quietly).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: it is not JSON, or lacks the ``images``/``annotations``/``categories`` lists.
    """
    from pycocotools.coco import COCO

    path = Path(ann_file)
    data = _load_json(path, "COCO annotation file")
    if not isinstance(data, dict):
        raise ValueError(f"COCO annotation file {path}: expected a JSON object, got {type(data).__name__}")
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"COCO annotation file {path}: expected a list under '{key}'")
    data.setdefault("annotations", [])  # image_info files (test-dev) have none
    if not isinstance(data["annotations"], list):
        raise ValueError(f"COCO annotation file {path}: expected a list under 'annotations'")
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _person_category(coco: Any, path: Path) -> int:
    ids = [c["id"] for c in coco.dataset["categories"] if c.get("name") == "person"]
    if not ids:
        raise ValueError(f"COCO annotation file {path}: no category named 'person'")
    return int(ids[0])


def _image_path(image_dir: Path, img: Mapping[str, Any], path: Path) -> Path:
    name = img.get("file_name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"COCO annotation file {path}: image {img.get('id')} has no 'file_name'")
    return image_dir / name


def _log(result: LoadResult, what: str) -> None:
    logger.info(
        "%s %s: %d records; skipped %s; clipped boxes %d%s",
        what, result.source, len(result.records), dict(result.skipped) or "none", result.clipped,
        f"; {dict(result.notes)}" if result.notes else "",
    )  # fmt: skip


def load_coco_gt_records(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    input_size: tuple[int, int],
    num_joints: int = 17,
    pixel_std: float = PIXEL_STD,
    bbox_scale: float = BBOX_SCALE_FACTOR,
    check_images: bool = True,
) -> LoadResult:
    """Ground-truth person instances of a COCO keypoint file, one record per kept annotation.

    Args:
        ann_file: ``person_keypoints_<set>.json``.
        image_dir: directory holding the images named by ``file_name``.
        input_size: ``(width, height)`` of the input patch; sets the crop aspect ratio.
        num_joints: K (17 for COCO).
        pixel_std: HRNet's 200.
        bbox_scale: box enlargement (HRNet: 1.25).
        check_images: raise at load time if an image of a kept record is missing.

    Returns:
        :class:`LoadResult`; skip reasons: ``crowd``, ``not_person``, ``zero_area``, ``box_outside_image``,
        ``no_keypoints``.

    Raises:
        FileNotFoundError: missing annotation file or (with ``check_images``) missing image, naming it.
        ValueError: malformed file; an annotation whose ``keypoints`` is not ``3 * num_joints`` numbers or
            whose ``bbox`` is not 4 finite numbers (naming the annotation id); a file with person
            annotations of which none has a ``keypoints`` field (not a keypoint file).
    """
    path = Path(ann_file)
    image_dir = Path(image_dir)
    coco = read_coco(path)
    person = _person_category(coco, path)
    aspect = float(input_size[0]) / float(input_size[1])
    skipped: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    clipped = 0
    records: list[PoseRecord] = []
    n_person_anns = 0
    n_with_kpt_field = 0
    for image_id in coco.getImgIds():  # file order, as HRNet
        img = coco.imgs[image_id]
        width, height = img.get("width"), img.get("height")
        if not (isinstance(width, int | float) and isinstance(height, int | float) and width > 0 and height > 0):
            raise ValueError(f"COCO annotation file {path}: image {image_id} needs positive 'width'/'height'")
        for ann in coco.imgToAnns.get(image_id, []):
            aid = ann.get("id")
            if ann.get("iscrowd", 0):
                skipped["crowd"] += 1
                continue
            if ann.get("category_id") != person:
                skipped["not_person"] += 1
                continue
            n_person_anns += 1
            bbox = np.asarray(ann.get("bbox", ()), dtype=np.float64)
            if bbox.shape != (4,) or not np.all(np.isfinite(bbox)):
                raise ValueError(f"{path}: annotation {aid}: 'bbox' must be 4 finite numbers [x, y, w, h]")
            x, y, w, h = bbox
            x1, y1 = max(0.0, x), max(0.0, y)
            x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
            y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
            if "area" in ann:
                area = float(ann["area"])
            else:
                area = float(w * h)
                notes["area_from_box"] += 1
            if not area > 0:
                skipped["zero_area"] += 1
                continue
            if x2 < x1 or y2 < y1:
                skipped["box_outside_image"] += 1
                continue
            if "keypoints" not in ann:
                skipped["no_keypoints"] += 1
                continue
            n_with_kpt_field += 1
            kp = np.asarray(ann["keypoints"], dtype=np.float64)
            if kp.shape != (3 * num_joints,) or not np.all(np.isfinite(kp)):
                raise ValueError(
                    f"{path}: annotation {aid}: 'keypoints' must be {3 * num_joints} finite numbers "
                    f"(x, y, v for {num_joints} joints), got {kp.size}"
                )
            if kp.max() == 0:  # HRNet: no keypoint annotated at all
                skipped["no_keypoints"] += 1
                continue
            if x < 0 or y < 0 or x + w > width or y + h > height:
                clipped += 1
            clean = np.array([x1, y1, x2 - x1, y2 - y1])
            center, scale = box_to_center_scale(clean, aspect, pixel_std, bbox_scale)
            joints = kp.reshape(num_joints, 3).copy()
            joints[:, 2] = np.minimum(joints[:, 2], 1.0)
            records.append(
                PoseRecord(
                    image=_image_path(image_dir, img, path),
                    image_id=int(image_id),
                    center=center,
                    scale=scale,
                    joints=joints,
                    box=clean,
                    score=1.0,
                    area=area,
                    extras={
                        "annotation_id": aid,
                        "num_keypoints": int(ann.get("num_keypoints", np.count_nonzero(joints[:, 2]))),
                        "bbox": tuple(float(v) for v in bbox),
                        "image_width": int(width),
                        "image_height": int(height),
                    },
                )
            )
    if n_person_anns and not n_with_kpt_field:
        raise ValueError(
            f"{path}: none of its {n_person_anns} person annotations has 'keypoints' "
            "(is this an instances_*.json rather than person_keypoints_*.json?)"
        )
    if check_images:
        check_image_files({r.image for r in records}, path)
    result = LoadResult(tuple(records), dict(skipped), clipped, path, dict(notes))
    _log(result, "COCO ground truth")
    return result


def load_coco_det_records(
    det_file: str | os.PathLike[str],
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    input_size: tuple[int, int],
    image_thre: float = 0.0,
    num_joints: int = 17,
    pixel_std: float = PIXEL_STD,
    bbox_scale: float = BBOX_SCALE_FACTOR,
    check_images: bool = True,
) -> LoadResult:
    """Person detections of a detector result file, one record per box with ``score >= image_thre``.

    Args:
        det_file: JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``.
        ann_file: the COCO file (keypoints or ``image_info``) whose ``images`` table names the files.
        image_dir: directory of the images.
        input_size: ``(width, height)`` of the input patch.
        image_thre: HRNet's ``TEST.IMAGE_THRE``: detections with ``score < image_thre`` are dropped.
        num_joints: K; the records' joints are all zero with visibility 0 (there is no ground truth).

    Returns:
        :class:`LoadResult`; skip reasons: ``not_person`` (category_id != 1, as HRNet), ``below_image_thre``,
        ``empty_box`` (w <= 0 or h <= 0). ``area`` of a record is the crop area ``prod(scale * pixel_std)``
        (what HRNet's evaluation uses for detections).

    Raises:
        FileNotFoundError: missing detection/annotation file or image, naming it.
        ValueError: not a JSON list, an entry without ``image_id``/``category_id``/``bbox``/``score``, a
            ``bbox`` that is not 4 finite numbers, a non-finite score, or an ``image_id`` the annotation file
            does not list (each naming the entry's index).
    """
    det_path = Path(det_file)
    image_dir = Path(image_dir)
    dets = _load_json(det_path, "detection file")
    if not isinstance(dets, list):
        raise ValueError(f"detection file {det_path}: expected a JSON list of detections, got {type(dets).__name__}")
    coco = read_coco(ann_file)
    aspect = float(input_size[0]) / float(input_size[1])
    skipped: Counter[str] = Counter()
    records: list[PoseRecord] = []
    for i, det in enumerate(dets):
        where = f"detection file {det_path}, entry {i}"
        if not isinstance(det, dict):
            raise ValueError(f"{where}: expected an object, got {type(det).__name__}")
        missing = [k for k in ("image_id", "category_id", "bbox", "score") if k not in det]
        if missing:
            raise ValueError(f"{where}: missing field(s) {missing}")
        if det["category_id"] != 1:
            skipped["not_person"] += 1
            continue
        try:
            box = np.asarray(det["bbox"], dtype=np.float64)
            score = float(det["score"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: 'bbox' and 'score' must be numbers: {exc}") from exc
        if box.shape != (4,) or not np.all(np.isfinite(box)):
            raise ValueError(f"{where}: 'bbox' must be 4 finite numbers [x, y, w, h], got {det['bbox']!r}")
        if not math.isfinite(score):
            raise ValueError(f"{where}: 'score' must be finite, got {det['score']!r}")
        image_id = det["image_id"]
        if image_id not in coco.imgs:
            raise ValueError(f"{where}: image_id {image_id!r} is not in {ann_file}")
        if score < image_thre:
            skipped["below_image_thre"] += 1
            continue
        if box[2] <= 0 or box[3] <= 0:
            skipped["empty_box"] += 1
            continue
        center, scale = box_to_center_scale(box, aspect, pixel_std, bbox_scale)
        img = coco.imgs[image_id]
        records.append(
            PoseRecord(
                image=_image_path(image_dir, img, Path(ann_file)),
                image_id=int(image_id),
                center=center,
                scale=scale,
                joints=np.zeros((num_joints, 3)),
                box=box,
                score=score,
                area=float(np.prod(scale * pixel_std)),
                extras={"det_index": i, "image_width": img.get("width"), "image_height": img.get("height")},
            )
        )
    if check_images:
        check_image_files({r.image for r in records}, det_path)
    result = LoadResult(tuple(records), dict(skipped), 0, det_path)
    _log(result, "COCO detections")
    return result


def coco_paths(root: str | os.PathLike[str], image_set: str) -> tuple[Path, Path]:
    """HRNet's COCO layout: ``(root/annotations/person_keypoints_<set>.json, root/images/<set>)``.

    Test sets (``'test' in image_set``) use ``image_info_<set>.json`` as HRNet does.
    """
    root = Path(root)
    prefix = "image_info" if "test" in image_set else "person_keypoints"
    return root / "annotations" / f"{prefix}_{image_set}.json", root / "images" / image_set


def coco_split_paths(cfg: Config, train: bool) -> tuple[Path, Path]:
    """(annotation file, image directory) of the training or test split: ``data.train`` / ``data.test``
    (``annotations``, ``images``) where given, else HRNet's layout under ``data.root`` (:func:`coco_paths`)."""
    files = cfg.data.train if train else cfg.data.test
    ann_file, image_dir = coco_paths(cfg.data.root, cfg.data.train_set if train else cfg.data.test_set)
    return (
        Path(files.annotations) if files.annotations else ann_file,
        Path(files.images) if files.images else image_dir,
    )


def load_coco_records(cfg: Config, train: bool, check_images: bool = True) -> LoadResult:
    """Records for training (``train=True``: GT boxes of ``cfg.data.train_set``) or testing (``cfg.data.test_set``:
    GT boxes when ``cfg.test.use_gt_bbox``, else the detections of ``cfg.test.bbox_file`` at
    ``cfg.test.image_thre``), from ``data.train`` / ``data.test`` or the HRNet layout under ``cfg.data.root``
    (see :func:`coco_split_paths`). K is ``model.num_keypoints`` (the data-set row's K, checked by the config).

    Raises:
        ValueError: testing with detections but ``cfg.test.bbox_file`` is empty.
    """
    ann_file, image_dir = coco_split_paths(cfg, train)
    common = {
        "input_size": cfg.model.input_size,
        "num_joints": cfg.model.num_keypoints,
        "pixel_std": cfg.data.pixel_std,
        "bbox_scale": cfg.data.bbox_scale,
        "check_images": check_images,
    }
    if train or cfg.test.use_gt_bbox:
        return load_coco_gt_records(ann_file, image_dir, **common)
    if not cfg.test.bbox_file:
        raise ValueError("test.bbox_file: a detector result file is needed when test.use_gt_bbox is false")
    return load_coco_det_records(cfg.test.bbox_file, ann_file, image_dir, image_thre=cfg.test.image_thre, **common)
