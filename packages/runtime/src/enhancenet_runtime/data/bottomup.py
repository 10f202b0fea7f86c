"""The bottom-up (Associative Embedding) sample pipeline: whole images, every person, pose-ae-train's affine.

Records (:func:`load_bottomup_records`): one per image of a COCO-format file, with the keypoints of its
annotations that have ``num_keypoints > 0`` and are not crowds (pose-ae-train's ``get_anns``) and the
segmentations of its ``iscrowd`` annotations. ``skip_empty`` drops images without such a person (pose-ae-train
trains on those only).

A training sample (:func:`build_bottomup_sample`, pose-ae-train's ``Dataset.loadImage``): the whole image,
``center = (w/2, h/2)``, ``scale = max(w, h)/200``, then with :class:`AEAugmentation` drawn by
:func:`sample_ae_augmentation` (``bottomup`` config section): rotation uniform in ±``rotation`` degrees, scale
× uniform ``scale_range``, the centre shifted by integers uniform in ``[int(-t·s), int(t·s))`` px (t =
``translate``, s the augmented scale), flip with probability 0.5. The image is warped to the input
(``cv2.warpAffine``, bilinear, border 0) by :func:`enhancenet_core.bottomup.ae_transform`; the keep-map
``1[Σ crowd masks < 0.5]`` (1 outside crowds) is warped the same way to the LR map, thresholded at 0.5
(:func:`enhancenet_core.bottomup.crowd_loss_mask`); a flip mirrors image and mask arrays and maps keypoints to
``x -> W_in - x`` with left/right swapped (pose-ae-train's ``output_res - x``). pose-ae-train's colour jitter
(HSV hue/saturation, brightness, contrast) is not applied (ours: left out). Sample dict::

    image      (3, H_in, W_in) float32  RGB in [0, 1] (pose-ae-train feeds pixels / 255, no mean/std)
    keypoints  (P, K, 3)       float64  input pixels (x, y, visibility); P may be 0
    mask       (h, w)          float32  LR loss mask (0 in crowds and outside the image)
    meta       dict: image_id, center (2,), scale, rotation, flip, index

:func:`collate_bottomup` stacks a batch, pads ``keypoints`` to the batch's largest P (≥ 1) with zero rows
(visibility 0: never drawn) and renders the targets with the spec codecs
(:func:`enhancenet_core.bottomup.multi_peak_codecs`, sizes from ``model``, σ from ``target.sigma``): one
vectorised call per map size, no loop over pixels or people. Batch::

    image        (B, 3, H_in, W_in)  float32   the network input
    keypoints    (B, P, K, 3)        float64   input pixels (x, y, visibility), zero rows pad
    meta         dict of lists       image_id, center, scale, rotation, flip, index

plus the loss's keys, whose names, shapes and dtypes are written down once in
:mod:`enhancenet_core.bottomup.loss` (``AE_BATCH_KEYS``: ``target_lr``, ``mask_lr``, ``pixels``,
``joint_mask``; with ``model.head.enabled`` also ``AE_HEAD_BATCH_KEYS``: ``target_hr``, ``mask_hr``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from enhancenet_core.bottomup import (
    ae_transform,
    affine_points,
    crowd_loss_mask,
    multi_peak_codecs,
    upsample_mask,
    whole_image_center_scale,
)
from enhancenet_core.config import BottomUpConfig, Config
from enhancenet_core.metrics.coco import load_coco_gt
from enhancenet_runtime.data.image import read_image
from enhancenet_runtime.data.segmentation import decode_segmentation

__all__ = [
    "AEAugmentation",
    "BottomUpDataset",
    "BottomUpRecord",
    "build_bottomup_sample",
    "collate_bottomup",
    "crowd_keep_map",
    "flip_permutation",
    "load_bottomup_records",
    "render_bottomup_targets",
    "sample_ae_augmentation",
]


@dataclass(frozen=True)
class BottomUpRecord:
    """One image: ``keypoints`` ``(P, K, 3)`` image pixels of its people, ``crowd`` its crowd segmentations."""

    image: Path
    image_id: int
    width: int
    height: int
    keypoints: NDArray[np.float64]
    crowd: tuple[Any, ...] = ()

    @property
    def num_people(self) -> int:
        return int(self.keypoints.shape[0])


def load_bottomup_records(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    num_keypoints: int = 17,
    skip_empty: bool = False,
) -> list[BottomUpRecord]:
    """Whole-image records of a COCO keypoint file, in the file's image order (module docstring).

    Raises ValueError naming the file and annotation for a malformed file (:func:`load_coco_gt`'s checks).
    """
    gt = load_coco_gt(Path(ann_file))
    per_image: dict[Any, list[Mapping[str, Any]]] = {}
    for a in gt["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a)
    out = []
    for img in gt["images"]:
        anns = per_image.get(img["id"], [])
        people = [a for a in anns if not a.get("iscrowd") and np.any(np.asarray(a["keypoints"])[2::3] > 0)]
        for a in people:
            if len(a["keypoints"]) != 3 * num_keypoints:
                raise ValueError(f"{ann_file}: annotation {a['id']} has {len(a['keypoints']) // 3} keypoints, "
                                 f"expected {num_keypoints}")  # fmt: skip
        if skip_empty and not people:
            continue
        kp = np.asarray([a["keypoints"] for a in people], np.float64).reshape(len(people), num_keypoints, 3)
        crowd = tuple(a["segmentation"] for a in anns if a.get("iscrowd") and "segmentation" in a)
        name = img.get("file_name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{ann_file}: image {img.get('id')!r} has no 'file_name'")
        w, h = img.get("width"), img.get("height")
        if not all(isinstance(v, int) and v > 0 for v in (w, h)):
            raise ValueError(f"{ann_file}: image {img['id']!r} needs positive integer 'width' and 'height'")
        out.append(BottomUpRecord(Path(image_dir) / name, img["id"], w, h, kp, crowd))
    return out


def crowd_keep_map(record: BottomUpRecord) -> NDArray[np.float32]:
    """``(H, W)`` float32 keep-map of the image: 1 where the summed crowd masks are < 0.5, else 0."""
    total = np.zeros((record.height, record.width), np.float32)
    for j, seg in enumerate(record.crowd):
        total += decode_segmentation(seg, record.height, record.width, f"image {record.image_id} crowd #{j}")
    return (total < 0.5).astype(np.float32)


@dataclass(frozen=True)
class AEAugmentation:
    """One sample's decisions: ``center`` (2,) and ``scale`` after the shift and zoom, degrees, flip."""

    center: NDArray[np.float64]
    scale: float
    rotation: float = 0.0
    flip: bool = False


def sample_ae_augmentation(rng: np.random.Generator, bu: BottomUpConfig, width: int, height: int) -> AEAugmentation:
    """pose-ae-train's draws; always five numbers in this order: rotation, scale, dx, dy, flip."""
    center, scale = whole_image_center_scale(width, height)
    rot = (rng.random() * 2 - 1) * bu.rotation
    scale *= rng.uniform(*bu.scale_range)
    bound = int(bu.translate * scale)
    dx, dy = (int(rng.integers(-bound, max(bound, -bound + 1))) for _ in range(2))
    flip = bool(rng.random() < 0.5) and bu.flip
    return AEAugmentation(center + np.array([dx, dy], np.float64), float(scale), float(rot), flip)


def flip_permutation(flip_pairs: Sequence[Sequence[int]], num_keypoints: int) -> NDArray[np.int64]:
    """``(K,)`` index: joint k of a mirrored image is joint ``perm[k]`` of the original."""
    perm = np.arange(num_keypoints)
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return perm


def build_bottomup_sample(
    record: BottomUpRecord, cfg: Config, aug: AEAugmentation | None = None, image: NDArray[np.uint8] | None = None
) -> dict[str, Any]:
    """One sample (module docstring); ``aug=None``: the whole image resized and centred, no augmentation."""
    w_in, h_in = cfg.model.input_size
    w_lr, h_lr = cfg.model.heatmap_size
    if aug is None:
        center, scale = whole_image_center_scale(record.width, record.height)
        aug = AEAugmentation(center, scale)
    img = read_image(record.image, cfg.data.color_rgb) if image is None else image
    if img.shape[:2] != (record.height, record.width):
        raise ValueError(f"image {record.image}: {img.shape[1]}x{img.shape[0]} pixels, the annotation file says "
                         f"{record.width}x{record.height}")  # fmt: skip
    mat_in = ae_transform(aug.center, aug.scale, (w_in, h_in), aug.rotation)
    mat_lr = ae_transform(aug.center, aug.scale, (w_lr, h_lr), aug.rotation)
    patch = cv2.warpAffine(np.ascontiguousarray(img), mat_in[:2], (w_in, h_in), flags=cv2.INTER_LINEAR)
    keep = (crowd_keep_map(record) * 255).astype(np.uint8)
    mask = crowd_loss_mask(cv2.warpAffine(keep, mat_lr[:2], (w_lr, h_lr), flags=cv2.INTER_LINEAR) / 255.0)
    kp = record.keypoints.copy()
    kp[..., :2] = affine_points(kp[..., :2], mat_in)
    if aug.flip:
        patch, mask = patch[:, ::-1], mask[:, ::-1]
        kp = kp[:, flip_permutation(cfg.data.flip_pairs, kp.shape[1])]
        kp[..., 0] = w_in - kp[..., 0]
    image_out = np.ascontiguousarray(patch.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)
    meta = {"image_id": record.image_id, "center": aug.center, "scale": aug.scale, "rotation": aug.rotation,
            "flip": aug.flip}  # fmt: skip
    return {"image": image_out, "keypoints": kp, "mask": np.ascontiguousarray(mask), "meta": meta}


def render_bottomup_targets(keypoints: NDArray, masks: NDArray, cfg: Config) -> dict[str, NDArray]:
    """The targets of a batch: ``(B, P, K, 3)`` input-pixel keypoints, ``(B, h, w)`` LR masks (module docstring)."""
    lr, hr = multi_peak_codecs(cfg.model.input_size, cfg.model.heatmap_size, cfg.target.sigma,
                               cfg.model.head.upscale, cfg.bottomup.grouping_params())  # fmt: skip
    t = lr.encode(keypoints)
    out: dict[str, NDArray] = {"target_lr": t.heatmaps, "pixels": t.pixels, "joint_mask": t.joint_mask}
    if cfg.model.head.enabled:
        out["target_hr"] = hr.encode(keypoints).heatmaps
        out["mask_hr"] = upsample_mask(masks, cfg.model.head.upscale)
    return out


def collate_bottomup(samples: Sequence[Mapping[str, Any]], cfg: Config) -> dict[str, Any]:
    """Stack samples, pad people to the batch's largest P and render the targets (module docstring)."""
    if not samples:
        raise ValueError("collate_bottomup: need at least one sample")
    k = cfg.model.num_keypoints
    p = max(1, max(s["keypoints"].shape[0] for s in samples))
    kp = np.zeros((len(samples), p, k, 3))
    for i, s in enumerate(samples):
        arr = np.asarray(s["keypoints"], np.float64)
        if arr.ndim != 3 or arr.shape[1:] != (k, 3):
            raise ValueError(f"collate_bottomup: sample {i} keypoints must be (P, {k}, 3), got {arr.shape}")
        kp[i, : arr.shape[0]] = arr
    masks = np.stack([s["mask"] for s in samples]).astype(np.float32)
    meta = {key: [s["meta"][key] for s in samples] for key in samples[0]["meta"]}
    out = {"image": np.stack([s["image"] for s in samples]), "keypoints": kp, "mask_lr": masks, "meta": meta}
    out.update(render_bottomup_targets(kp, masks, cfg))
    return out


class BottomUpDataset:
    """Map-style whole-image data set; sample ``i`` of epoch ``e`` draws from ``default_rng([seed, e, i])``.

    ``ann_file``: the COCO file the records came from (bottom-up AP is computed against it), if known.
    """

    def __init__(self, records: Sequence[BottomUpRecord], cfg: Config, train: bool, seed: int | None = None,
                 ann_file: str | os.PathLike[str] | None = None) -> None:
        self.records = tuple(records)
        self.ann_file = Path(ann_file) if ann_file is not None else None
        self.cfg = cfg
        self.train = bool(train)
        self.seed = int(cfg.train.seed if seed is None else seed)
        self.epoch = 0
        k = cfg.model.num_keypoints
        for r in self.records:
            if r.keypoints.shape[1:] != (k, 3) and r.num_people:
                raise ValueError(f"record of {r.image} has {r.keypoints.shape[1]} joints, model.num_keypoints is {k}")

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        if int(epoch) < 0:
            raise ValueError(f"epoch must be non-negative, got {epoch}")
        self.epoch = int(epoch)

    def sample(self, index: int, epoch: int | None = None) -> dict[str, Any]:
        n = len(self.records)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a data set of {n} images")
        i = index % n
        r = self.records[i]
        aug = None
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch if epoch is None else int(epoch), i])
            aug = sample_ae_augmentation(rng, self.cfg.bottomup, r.width, r.height)
        out = build_bottomup_sample(r, self.cfg, aug)
        out["meta"]["index"] = i
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.sample(index)

    def collate(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return collate_bottomup(samples, self.cfg)
