"""Benchmark baseline (written for enhancenet, not HRNet's code): HRNet's training input pipeline per sample.

Re-states, with the same per-sample steps, data flow and dtypes, ``leoxiaobin/deep-high-resolution-net.pytorch``:

- ``lib/dataset/coco.py`` ``_load_coco_keypoint_annotation_kernal`` / ``_xywh2cs`` (lines ~145-229): the db
  records (clean box, ``joints_3d`` / ``joints_3d_vis`` (K, 3) float, centre/scale float32 with the 1.25 margin);
- ``lib/dataset/JointsDataset.py`` ``__getitem__`` (lines 113-198): ``copy.deepcopy`` of the record,
  ``cv2.imread`` + ``cvtColor`` (``COLOR_RGB``), half body (``half_body_transform``, lines 65-108), scale /
  rotation / flip drawn from ``np.random`` and ``random``, the flip as a negative-stride view
  (``data_numpy[:, ::-1, :]``) and ``fliplr_joints``, ``get_affine_transform`` + ``cv2.warpAffine``, the
  transform, a Python loop of ``affine_transform`` over visible joints, ``generate_target`` (per sample,
  :func:`benchmarks.peers.hrnet.generate_target`), ``torch.from_numpy`` and the meta dict;
- ``lib/utils/transforms.py`` (``fliplr_joints``, ``get_affine_transform``, ``affine_transform``,
  ``get_3rd_point``, ``get_dir``, lines 32-110);
- ``tools/train.py`` (lines ~123-147): ``transforms.Compose([ToTensor(), Normalize(ImageNet)])`` (torchvision's
  ToTensor: a contiguous CHW copy of the uint8 array, ``.float().div(255)``; Normalize: a clone, ``sub_`` /
  ``div_``; re-stated here in torch so that torchvision is not needed) and the ``DataLoader`` (shuffle, workers,
  default collate).

Settings of ``experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml``: input 192 x 256, heat map 48 x 64, σ 2, scale
factor 0.35, rotation 45 (p 0.6), flip, half body p 0.3 above 8 visible joints, RGB.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from benchmarks.peers.hrnet import generate_target

IMAGE_SIZE = np.array([192, 256])
HEATMAP_SIZE = np.array([48, 64])
SIGMA = 2
PIXEL_STD = 200
FLIP_PAIRS = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]
UPPER_BODY_IDS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def _xywh2cs(x: float, y: float, w: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    aspect = IMAGE_SIZE[0] * 1.0 / IMAGE_SIZE[1]
    center = np.zeros(2, dtype=np.float32)
    center[0], center[1] = x + w * 0.5, y + h * 0.5
    if w > aspect * h:
        h = w * 1.0 / aspect
    elif w < aspect * h:
        w = h * aspect
    scale = np.array([w * 1.0 / PIXEL_STD, h * 1.0 / PIXEL_STD], dtype=np.float32)
    return center, scale * 1.25


def load_db(ann_file: Path, image_dir: Path) -> list[dict[str, Any]]:
    """HRNet's ground-truth db of a COCO keypoint file (persons with at least one labelled keypoint)."""
    data = json.loads(Path(ann_file).read_text())
    images = {im["id"]: im for im in data["images"]}
    db = []
    for obj in data["annotations"]:
        im = images[obj["image_id"]]
        if obj.get("iscrowd", 0) or obj["category_id"] != 1 or max(obj["keypoints"]) == 0:
            continue
        x, y, w, h = obj["bbox"]
        x1, y1 = np.max((0, x)), np.max((0, y))
        x2 = np.min((im["width"] - 1, x1 + np.max((0, w - 1))))
        y2 = np.min((im["height"] - 1, y1 + np.max((0, h - 1))))
        if not (obj["area"] > 0 and x2 >= x1 and y2 >= y1):
            continue
        joints = np.zeros((17, 3), dtype=np.float64)
        vis = np.zeros((17, 3), dtype=np.float64)
        for j in range(17):
            joints[j, 0], joints[j, 1] = obj["keypoints"][3 * j], obj["keypoints"][3 * j + 1]
            vis[j, 0] = vis[j, 1] = min(obj["keypoints"][3 * j + 2], 1)
        center, scale = _xywh2cs(x1, y1, x2 - x1, y2 - y1)
        db.append({"image": str(Path(image_dir) / im["file_name"]), "center": center, "scale": scale,
                   "joints_3d": joints, "joints_3d_vis": vis, "filename": "", "imgnum": 0})
    return db


def _get_dir(src_point: list[float], rot_rad: float) -> list[float]:
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    return [src_point[0] * cs - src_point[1] * sn, src_point[0] * sn + src_point[1] * cs]


def _get_3rd_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    direct = a - b
    return b + np.array([-direct[1], direct[0]], dtype=np.float32)


def get_affine_transform(center, scale, rot, output_size) -> np.ndarray:
    scale_tmp = scale * 200.0
    rot_rad = np.pi * rot / 180
    src_dir = _get_dir([0, scale_tmp[0] * -0.5], rot_rad)
    dst_dir = np.array([0, output_size[0] * -0.5], np.float32)
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0, :] = center
    src[1, :] = center + src_dir
    dst[0, :] = [output_size[0] * 0.5, output_size[1] * 0.5]
    dst[1, :] = np.array([output_size[0] * 0.5, output_size[1] * 0.5]) + dst_dir
    src[2:, :] = _get_3rd_point(src[0, :], src[1, :])
    dst[2:, :] = _get_3rd_point(dst[0, :], dst[1, :])
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def affine_transform(pt, t) -> np.ndarray:
    return np.dot(t, np.array([pt[0], pt[1], 1.0]).T)[:2]


def fliplr_joints(joints, joints_vis, width, matched_parts):
    joints[:, 0] = width - joints[:, 0] - 1
    for a, b in matched_parts:
        joints[a, :], joints[b, :] = joints[b, :], joints[a, :].copy()
        joints_vis[a, :], joints_vis[b, :] = joints_vis[b, :], joints_vis[a, :].copy()
    return joints * joints_vis, joints_vis


def to_tensor_normalize(pic: np.ndarray) -> torch.Tensor:
    """torchvision ``ToTensor()`` then ``Normalize(MEAN, STD)`` on an (H, W, 3) uint8 array."""
    img = torch.from_numpy(pic.transpose((2, 0, 1))).contiguous()
    img = img.to(dtype=torch.get_default_dtype()).div(255)
    img = img.clone()
    mean = torch.as_tensor(MEAN, dtype=img.dtype)[:, None, None]
    std = torch.as_tensor(STD, dtype=img.dtype)[:, None, None]
    return img.sub_(mean).div_(std)


class HRNetJointsDataset(Dataset):
    """HRNet's ``COCODataset`` (training) over ``db``: ``(input, target, target_weight, meta)`` per item."""

    def __init__(self, db: list[dict[str, Any]], is_train: bool = True) -> None:
        self.db = db
        self.is_train = is_train
        self.aspect_ratio = IMAGE_SIZE[0] * 1.0 / IMAGE_SIZE[1]

    def __len__(self) -> int:
        return len(self.db)

    def half_body_transform(self, joints, joints_vis):
        upper, lower = [], []
        for j in range(17):
            if joints_vis[j][0] > 0:
                (upper if j in UPPER_BODY_IDS else lower).append(joints[j])
        prefer_upper = np.random.randn() < 0.5  # noqa: NPY002 - HRNet draws from the global state
        selected = upper if (prefer_upper and len(upper) > 2) else (lower if len(lower) > 2 else upper)
        if len(selected) < 2:
            return None, None
        selected = np.array(selected, dtype=np.float32)
        center = selected.mean(axis=0)[:2]
        w, h = np.amax(selected, axis=0)[:2] - np.amin(selected, axis=0)[:2]
        if w > self.aspect_ratio * h:
            h = w * 1.0 / self.aspect_ratio
        elif w < self.aspect_ratio * h:
            w = h * self.aspect_ratio
        return center, np.array([w * 1.0 / PIXEL_STD, h * 1.0 / PIXEL_STD], dtype=np.float32) * 1.5

    def __getitem__(self, idx: int):
        db_rec = copy.deepcopy(self.db[idx])
        image_file = db_rec["image"]
        data_numpy = cv2.imread(image_file, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        data_numpy = cv2.cvtColor(data_numpy, cv2.COLOR_BGR2RGB)
        joints, joints_vis = db_rec["joints_3d"], db_rec["joints_3d_vis"]
        c, s, r = db_rec["center"], db_rec["scale"], 0
        if self.is_train:
            if np.sum(joints_vis[:, 0]) > 8 and np.random.rand() < 0.3:  # noqa: NPY002 - as HRNet
                c_half, s_half = self.half_body_transform(joints, joints_vis)
                if c_half is not None and s_half is not None:
                    c, s = c_half, s_half
            sf, rf = 0.35, 45
            s = s * np.clip(np.random.randn() * sf + 1, 1 - sf, 1 + sf)  # noqa: NPY002 - as HRNet
            r = np.clip(np.random.randn() * rf, -rf * 2, rf * 2) if random.random() <= 0.6 else 0  # noqa: NPY002
            if random.random() <= 0.5:
                data_numpy = data_numpy[:, ::-1, :]
                joints, joints_vis = fliplr_joints(joints, joints_vis, data_numpy.shape[1], FLIP_PAIRS)
                c[0] = data_numpy.shape[1] - c[0] - 1
        trans = get_affine_transform(c, s, r, IMAGE_SIZE)
        patch = cv2.warpAffine(data_numpy, trans, (int(IMAGE_SIZE[0]), int(IMAGE_SIZE[1])), flags=cv2.INTER_LINEAR)
        image = to_tensor_normalize(patch)
        for i in range(17):
            if joints_vis[i, 0] > 0.0:
                joints[i, 0:2] = affine_transform(joints[i, 0:2], trans)
        target, target_weight = generate_target(joints, joints_vis[:, 0], IMAGE_SIZE, HEATMAP_SIZE, SIGMA)
        meta = {"image": image_file, "filename": db_rec["filename"], "imgnum": db_rec["imgnum"], "joints": joints,
                "joints_vis": joints_vis, "center": c, "scale": s, "rotation": r, "score": 1}
        return image, torch.from_numpy(target), torch.from_numpy(target_weight), meta
