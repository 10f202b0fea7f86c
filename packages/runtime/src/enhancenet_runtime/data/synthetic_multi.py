"""A deterministic synthetic COCO-format **multi-person** data set for the bottom-up (Associative Embedding) path.

The stick figures, background and noise of :mod:`enhancenet_runtime.data.synthetic`, but whole scenes:

* several people per image (``people_per_image``), placed uniformly, **overlapping** a previous person
  (``overlap_prob``: the pelvis within ~0.2 body heights of the previous one) or **cut by the border**
  (``border_prob``: the pelvis within 0.1 image sides of a random edge, on either side of it);
* **crowd regions** (``crowd_prob``): a cluster of 4-8 small figures drawn first (behind everyone), annotated
  once as ``iscrowd: 1`` with ``num_keypoints: 0``, zero keypoints, an uncompressed RLE ``segmentation`` of the
  region (the box around the cluster's drawn pixels), its ``bbox`` and ``area`` (pixels of the region), as
  COCO annotates crowds;
* keypoint labels as in the single-person generator: v = 2 visible, v = 1 covered by a later person or an
  occluder, v = 0 (x = y = 0) outside the image, self-hidden or randomly unlabelled; ``bbox`` tight on the
  drawn pixels, ``area`` the body silhouette (:func:`enhancenet_runtime.data.synthetic_people._body_silhouette`).

Layout under ``out_dir``: ``annotations/person_keypoints_{train,val}.json`` and ``images/{train,val}/*.png``
(the COCO reader's layout). Image ``i`` depends on ``numpy.random.default_rng([seed, i])`` alone, so a seed
gives byte-identical files; the tree is built in a temporary directory and renamed into place.

CLI: ``python -m enhancenet_runtime.data.synthetic_multi OUT --num-images N --seed S``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from enhancenet_runtime.data.marked_dirs import MARKER_NAME, is_ours, remove_stale_work_dirs
from enhancenet_runtime.data.segmentation import encode_rle
from enhancenet_runtime.data.synthetic import _coco_header, _write_json
from enhancenet_runtime.data.synthetic_people import (
    _NUM_KPT,
    _background,
    _body_silhouette,
    _draw_person,
    _random_color,
    _random_pose,
)

__all__ = ["MultiPersonDataset", "generate_multi_person_coco", "main"]

GENERATOR = "enhancenet_runtime.data.synthetic_multi"
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class MultiPersonDataset:
    """Where :func:`generate_multi_person_coco` wrote a data set: files per split and counts."""

    root: Path
    annotation_files: dict[str, Path]
    image_dirs: dict[str, Path]
    num_images: dict[str, int]
    num_people: dict[str, int]
    num_crowds: dict[str, int]


def _pelvis(rng: np.random.Generator, w: int, h: int, prev: np.ndarray | None, height_px: float,
            overlap_prob: float, border_prob: float) -> np.ndarray:  # fmt: skip
    """Where the next person stands: next to ``prev``, across an edge, or anywhere."""
    u = rng.random()
    if prev is not None and u < overlap_prob:
        return prev + rng.normal(0.0, 0.12 * height_px, size=2)
    if u < overlap_prob + border_prob:
        edge = int(rng.integers(0, 4))  # left, right, top, bottom
        along = rng.uniform(0.1, 0.9)
        across = rng.uniform(-0.1, 0.1)
        pos = {0: (across * w, along * h), 1: ((1 - across) * w, along * h),
               2: (along * w, across * h + 0.3 * height_px), 3: (along * w, (1 - across) * h + 0.3 * height_px)}  # fmt: skip
        return np.asarray(pos[edge], dtype=np.float64)
    return np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(0.3, 0.8) * h])


def _draw_crowd(rng: np.random.Generator, img: np.ndarray) -> dict[str, Any] | None:
    """4-8 small figures in a region of ``img``; returns the crowd annotation's mask, bbox and area."""
    hh, ww = img.shape[:2]
    rw, rh = rng.uniform(0.25, 0.45) * ww, rng.uniform(0.25, 0.45) * hh
    x0, y0 = rng.uniform(0, ww - rw), rng.uniform(0, hh - rh)
    drawn = np.zeros((hh, ww), np.uint8)
    for _ in range(int(rng.integers(4, 9))):
        h = rng.uniform(0.4, 0.7) * rh
        pelvis = np.array([x0 + rng.uniform(0.15, 0.85) * rw, y0 + rng.uniform(0.45, 0.7) * rh])
        person = _random_pose(rng, h, pelvis)
        colors = [_random_color(rng) for _ in range(7)]
        _draw_person(img, person, colors, aa=True)
        _draw_person(drawn, person, [(255,)] * 7, aa=False)
    rows, cols = np.nonzero(drawn)
    if rows.size == 0:
        return None
    region = np.zeros((hh, ww), bool)
    region[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
    bbox = [float(cols.min()), float(rows.min()), float(cols.max() - cols.min() + 1), float(rows.max() - rows.min() + 1)]
    return {"mask": region, "bbox": bbox, "area": float(region.sum())}


def _draw_scene(
    rng: np.random.Generator, width: int, height: int, people: tuple[int, int], crowd_prob: float,
    overlap_prob: float, border_prob: float, occlusion_prob: float, unlabeled_prob: float,
) -> tuple[np.ndarray, list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """One scene: (H, W, 3) BGR uint8, its people (keypoints (17, 3), bbox, area) and its crowds."""
    img = _background(rng, width, height)
    crowds = []
    if rng.random() < crowd_prob:
        crowd = _draw_crowd(rng, img)
        if crowd is not None:
            crowds.append(crowd)
    persons: list[dict[str, Any]] = []
    layers: list[np.ndarray] = []  # drawn masks of people and occluders, in drawing order
    prev = None
    for _ in range(int(rng.integers(people[0], people[1] + 1))):
        h = rng.uniform(0.35, 0.75) * height
        prev = _pelvis(rng, width, height, prev, h, overlap_prob, border_prob)
        person = _random_pose(rng, h, prev)
        mask = np.zeros((height, width), np.uint8)
        _draw_person(mask, person, [(255,)] * 7, aa=False)
        _draw_person(img, person, [_random_color(rng) for _ in range(7)], aa=True)
        person["layer"], person["mask"] = len(layers), mask
        layers.append(mask)
        persons.append(person)
        if rng.random() < occlusion_prob:
            j = int(rng.integers(0, _NUM_KPT))
            cx, cy = person["keypoints"][j] + rng.normal(0, 0.04 * h, size=2)
            rw, rh = rng.uniform(0.1, 0.25, size=2) * h
            p0, p1 = (round(cx - rw / 2), round(cy - rh / 2)), (round(cx + rw / 2), round(cy + rh / 2))
            occ = np.zeros((height, width), np.uint8)
            cv2.rectangle(occ, p0, p1, 255, -1)
            cv2.rectangle(img, p0, p1, _random_color(rng), -1)
            layers.append(occ)
    noise = rng.standard_normal(size=img.shape, dtype=np.float32) * np.float32(rng.uniform(2.0, 8.0)) + img
    img = np.clip(noise, 0, 255).astype(np.uint8)

    out = []
    for person in persons:
        k = person["keypoints"]
        inside = (k[:, 0] >= 0) & (k[:, 0] <= width - 1) & (k[:, 1] >= 0) & (k[:, 1] <= height - 1)
        px = np.clip(np.round(k).astype(np.int64), 0, [width - 1, height - 1])
        later = layers[person["layer"] + 1 :]
        covered = np.zeros(_NUM_KPT, bool)
        if later:
            covered = np.stack(later)[:, px[:, 1], px[:, 0]].max(axis=0) > 0
        unlabeled = rng.random(_NUM_KPT) < unlabeled_prob
        vis = np.where(covered, 1, 2)
        vis = np.where(~inside | person["self_hidden"] | unlabeled, 0, vis)
        rows, cols = np.nonzero(person["mask"])
        if rows.size == 0:  # wholly outside the image
            continue
        x1, y1, x2, y2 = int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())
        body = _body_silhouette(person, width, height)[y1 : y2 + 1, x1 : x2 + 1] | person["mask"][y1 : y2 + 1, x1 : x2 + 1]
        xy = np.where(vis[:, None] > 0, k, 0.0)
        out.append({"keypoints": np.concatenate([xy, vis[:, None]], axis=1),
                    "bbox": [float(x1), float(y1), float(x2 - x1 + 1), float(y2 - y1 + 1)],
                    "area": float(np.count_nonzero(body))})  # fmt: skip
    return img, out, crowds


def _check_args(num_images: int, seed: int, image_size: Sequence[int], people: Sequence[int],
                probs: dict[str, float]) -> tuple[int, int, int, int]:  # fmt: skip
    if isinstance(num_images, bool) or int(num_images) != num_images or num_images < 1:
        raise ValueError(f"num_images must be a positive integer, got {num_images!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if len(image_size) != 2 or min(int(v) for v in image_size) < 32:
        raise ValueError(f"image_size must be (width, height) with both >= 32, got {image_size!r}")
    if len(people) != 2 or int(people[0]) < 0 or int(people[1]) < int(people[0]):
        raise ValueError(f"people_per_image must be (min, max) with 0 <= min <= max, got {people!r}")
    for name, p in probs.items():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {p!r}")
    if probs["overlap_prob"] + probs["border_prob"] > 1.0:
        raise ValueError("overlap_prob + border_prob must be at most 1")
    return int(image_size[0]), int(image_size[1]), int(people[0]), int(people[1])


def generate_multi_person_coco(
    out_dir: str | os.PathLike[str],
    num_images: int,
    seed: int = 0,
    image_size: tuple[int, int] = (128, 128),
    people_per_image: tuple[int, int] = (2, 5),
    val_fraction: float = 0.2,
    crowd_prob: float = 0.3,
    overlap_prob: float = 0.3,
    border_prob: float = 0.25,
    occlusion_prob: float = 0.2,
    unlabeled_prob: float = 0.02,
    overwrite: bool = False,
) -> MultiPersonDataset:
    """Write a synthetic multi-person COCO data set (``train`` and ``val``) under ``out_dir`` (module docstring).

    Raises:
        ValueError: a bad argument, named.
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False, or it was not made by a generator of
            ours (no :data:`MARKER_NAME`), which is never deleted.
    """
    probs = {"val_fraction": val_fraction, "crowd_prob": crowd_prob, "overlap_prob": overlap_prob,
             "border_prob": border_prob, "occlusion_prob": occlusion_prob, "unlabeled_prob": unlabeled_prob}  # fmt: skip
    width, height, lo, hi = _check_args(num_images, seed, image_size, people_per_image, probs)
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass overwrite=True to replace it)")
    if (out.exists() or out.is_symlink()) and not is_ours(out):
        raise FileExistsError(f"{out} exists and is not a synthetic data set made by enhancenet (no {MARKER_NAME})")
    n_val = round(num_images * val_fraction)
    splits = {"train": range(0, num_images - n_val), "val": range(num_images - n_val, num_images)}
    params = {"image_size": [width, height], "people_per_image": [lo, hi], "num_images": int(num_images), **probs}
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_work_dirs(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    counts: dict[str, list[int]] = {}
    try:
        _write_json(tmp / MARKER_NAME, {"generator": GENERATOR, "version": GENERATOR_VERSION, "seed": int(seed), **params})
        (tmp / "annotations").mkdir()
        ann_id = 0
        for split, indices in splits.items():
            img_dir = tmp / "images" / split
            img_dir.mkdir(parents=True)
            coco = _coco_header(split, int(seed), params)
            coco["info"]["generator"] = GENERATOR
            n_people = n_crowd = 0
            for i in indices:
                img, people, crowds = _draw_scene(
                    np.random.default_rng([int(seed), i]), width, height, (lo, hi), crowd_prob, overlap_prob,
                    border_prob, occlusion_prob, unlabeled_prob,
                )  # fmt: skip
                image_id = i + 1
                name = f"{image_id:012d}.png"
                ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
                if not ok:  # pragma: no cover - OpenCV failure
                    raise RuntimeError(f"OpenCV could not encode image {name}")
                (img_dir / name).write_bytes(buf.tobytes())
                coco["images"].append({"id": image_id, "file_name": name, "width": width, "height": height})
                for p in people:
                    ann_id += 1
                    kp = p["keypoints"]
                    x, y, w, h = p["bbox"]
                    coco["annotations"].append({
                        "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                        "keypoints": [float(v) if c < 2 else int(v) for row in kp for c, v in enumerate(row)],
                        "num_keypoints": int(np.count_nonzero(kp[:, 2] > 0)), "bbox": p["bbox"], "area": p["area"],
                        "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                    })  # fmt: skip
                for c in crowds:
                    ann_id += 1
                    coco["annotations"].append({
                        "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 1, "num_keypoints": 0,
                        "keypoints": [0] * (3 * _NUM_KPT), "bbox": c["bbox"], "area": c["area"],
                        "segmentation": encode_rle(c["mask"]),
                    })  # fmt: skip
                n_people += len(people)
                n_crowd += len(crowds)
            _write_json(tmp / "annotations" / f"person_keypoints_{split}.json", coco)
            counts[split] = [len(indices), n_people, n_crowd]
        if out.exists():  # overwrite: swap only now that the new tree is complete
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "data")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return MultiPersonDataset(
        root=out,
        annotation_files={s: out / "annotations" / f"person_keypoints_{s}.json" for s in splits},
        image_dirs={s: out / "images" / s for s in splits},
        num_images={s: c[0] for s, c in counts.items()},
        num_people={s: c[1] for s, c in counts.items()},
        num_crowds={s: c[2] for s, c in counts.items()},
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m enhancenet_runtime.data.synthetic_multi OUT --num-images N --seed S [...]``."""
    parser = argparse.ArgumentParser(prog=f"python -m {GENERATOR}",
                                     description="Write a deterministic synthetic multi-person COCO data set.")  # fmt: skip
    parser.add_argument("out", type=Path, help="data set root to create")
    parser.add_argument("--num-images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--min-people", type=int, default=2)
    parser.add_argument("--max-people", type=int, default=5)
    parser.add_argument("--crowd-prob", type=float, default=0.3)
    parser.add_argument("--overwrite", action="store_true", help=f"replace OUT if this command made it (has {MARKER_NAME})")
    args = parser.parse_args(argv)
    try:
        ds = generate_multi_person_coco(
            args.out, args.num_images, args.seed, image_size=(args.width, args.height),
            people_per_image=(args.min_people, args.max_people), crowd_prob=args.crowd_prob, overwrite=args.overwrite,
        )  # fmt: skip
    except (ValueError, FileExistsError) as exc:
        parser.error(str(exc))
    for s in ds.annotation_files:
        print(f"{s}: {ds.num_images[s]} images, {ds.num_people[s]} people, {ds.num_crowds[s]} crowds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
