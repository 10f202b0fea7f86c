"""A deterministic synthetic COCO-format keypoint data set: stick figures on cluttered backgrounds.

Small enough to train on a CPU in minutes, hard enough that a model has to learn something: people are drawn
from a simple kinematic model (pelvis position, body height, body tilt, yaw, shoulder/elbow/hip/knee angles),
as limbs of varying width and colour with a torso polygon and a head ellipse, over a background of gradients,
random shapes, distractor lines and noise. Occluding rectangles and later people cover joints (COCO v=1);
joints outside the image and a few randomly "unlabelled" ones are missing (v=0, x=y=0); back-facing people
have no face keypoints and profile views lose the far ear.

Keypoints are sub-pixel: every coordinate is a multiple of 1/16 px, drawn with OpenCV's fixed-point
``shift=4`` so the figure is drawn exactly where it is annotated (pixel-index convention: integer = pixel
centre, as COCO and HRNet read keypoints), and heat-map quantisation matters.

Layout written under ``out_dir`` (HRNet's COCO layout, so the COCO reader reads it unchanged)::

    annotations/person_keypoints_{train,val}.json
    images/{train,val}/000000000001.png ...
    person_detection_results/det_{train,val}.json   # GT boxes jittered + false positives, with scores

Each annotation's ``bbox`` is the tight box of the figure's drawn pixels (clipped to the image) and
``segmentation`` that box as a polygon (no masks are claimed); ``iscrowd`` is 0. ``area`` plays COCO's role
(OKS uses s² = ``area``; on COCO it is the segmentation area of a real body, typically 25-65 % of its box):
it is the number of pixels inside ``bbox`` covered by the figure's *body silhouette*, the drawn figure with
human thickness (:func:`_body_silhouette`: the drawn torso polygon and head ellipse; thighs 0.09 h, shins
0.06 h, upper arms 0.06 h, forearms 0.05 h and neck 0.06 h wide as round-capped lines, a 0.13 h thick
neck -> pelvis trunk line; h = the figure's standing height), united with the drawn pixels. It is amodal
(counted before occluders and later people) and clipped to the image. Its ratio to the box area is about
0.3-0.6 (mean ~0.39), like COCO people; the drawing's own pixel count (~0.31) would make OKS stricter.

Determinism: image ``i`` is drawn from ``numpy.random.default_rng([seed, i])`` alone, so the same seed gives
byte-identical JSON and images, independent of the split sizes. The whole tree is written into a temporary
directory next to ``out_dir`` and renamed into place at the end (nothing half-written on failure).

CLI: ``python -m enhancenet_runtime.data.synthetic OUT --num-images N --seed S``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_runtime.data.keypoints import COCO_KEYPOINT_NAMES, COCO_SKELETON
from enhancenet_runtime.data.marked_dirs import MARKER_NAME, is_ours, remove_stale_work_dirs
from enhancenet_runtime.data.synthetic_people import (
    _NUM_KPT,
    _background,
    _body_silhouette,
    _draw_person,
    _random_color,
    _random_pose,
)

try:  # the optional extra enhancenet-core[data]
    import cv2
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "enhancenet_runtime.data.synthetic needs OpenCV: pip install opencv-python-headless"
    ) from exc

__all__ = ["MARKER_NAME", "SyntheticDataset", "generate_synthetic_coco", "main"]

GENERATOR_VERSION = 2  # 2: ``area`` from the body silhouette (1: the drawn pixels)
@dataclass(frozen=True)
class SyntheticDataset:
    """Where :func:`generate_synthetic_coco` wrote a data set, and what it holds.

    Attributes:
        root: the data set root (HRNet COCO layout).
        annotation_files: split name -> ``person_keypoints_<split>.json``.
        image_dirs: split name -> image directory.
        detection_files: split name -> detector results JSON (list of {image_id, category_id, bbox, score}).
        num_images: split name -> number of images.
        num_people: split name -> number of person annotations.
    """

    root: Path
    annotation_files: dict[str, Path]
    image_dirs: dict[str, Path]
    detection_files: dict[str, Path]
    num_images: dict[str, int]
    num_people: dict[str, int]


def _draw_image(
    rng: np.random.Generator,
    width: int,
    height: int,
    people_range: tuple[int, int],
    occlusion_prob: float,
    unlabeled_prob: float,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One image and its people: (H, W, 3) BGR uint8, and per person: keypoints (17, 3) (x, y, v), bbox
    [x, y, w, h] (tight box of the drawn pixels), area (body-silhouette pixels inside bbox, see
    :func:`_body_silhouette`) and the figure's drawn (H, W) uint8 mask (before any occlusion)."""
    img = _background(rng, width, height)
    n_people = int(rng.integers(people_range[0], people_range[1] + 1))
    people: list[dict[str, Any]] = []
    layers: list[tuple[np.ndarray, int]] = []  # (mask, owner person index or -1 for an occluder), drawing order
    for p in range(n_people):
        h = rng.uniform(0.45, 0.95) * height
        pelvis = np.array([rng.uniform(0.05, 0.95) * width, rng.uniform(0.35, 0.75) * height])
        person = _random_pose(rng, h, pelvis)
        colors = [_random_color(rng) for _ in range(7)]
        mask = np.zeros((height, width), dtype=np.uint8)
        _draw_person(mask, person, [(255,)] * 7, aa=False)
        _draw_person(img, person, colors, aa=True)
        person["layer"] = len(layers)
        person["mask"] = mask
        layers.append((mask, p))
        people.append(person)
        if rng.random() < occlusion_prob:  # a rectangle over a random joint
            j = int(rng.integers(0, _NUM_KPT))
            cx, cy = person["keypoints"][j] + rng.normal(0, 0.04 * h, size=2)
            rw, rh = rng.uniform(0.1, 0.3, size=2) * h
            p0 = (round(cx - rw / 2), round(cy - rh / 2))
            p1 = (round(cx + rw / 2), round(cy + rh / 2))
            occ = np.zeros((height, width), dtype=np.uint8)
            cv2.rectangle(occ, p0, p1, 255, -1)
            cv2.rectangle(img, p0, p1, _random_color(rng), -1)
            layers.append((occ, -1))

    # Pixel noise over everything.
    noise = rng.standard_normal(size=img.shape, dtype=np.float32)
    noise *= np.float32(rng.uniform(2.0, 10.0))
    noise += img
    img = np.clip(noise, 0, 255, out=noise).astype(np.uint8)

    out = []
    for person in people:
        k = person["keypoints"]
        inside = (k[:, 0] >= 0) & (k[:, 0] <= width - 1) & (k[:, 1] >= 0) & (k[:, 1] <= height - 1)
        px = np.clip(np.round(k).astype(np.int64), 0, [width - 1, height - 1])
        later = [m for m, _ in layers[person["layer"] + 1 :]]
        covered = (
            np.any(np.stack([m[px[:, 1], px[:, 0]] > 0 for m in later]), axis=0)
            if later
            else np.zeros(_NUM_KPT, dtype=bool)
        )
        unlabeled = rng.random(_NUM_KPT) < unlabeled_prob
        vis = np.where(covered, 1, 2)
        vis = np.where(~inside | person["self_hidden"] | unlabeled, 0, vis)
        xy = np.where(vis[:, None] > 0, k, 0.0)
        rows, cols = np.nonzero(person["mask"])
        if rows.size == 0:  # entirely outside the image: no annotation
            continue
        x1, y1, x2, y2 = int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())
        box = [float(x1), float(y1), float(x2 - x1 + 1), float(y2 - y1 + 1)]
        body = _body_silhouette(person, width, height)[y1 : y2 + 1, x1 : x2 + 1]
        body |= person["mask"][y1 : y2 + 1, x1 : x2 + 1]
        out.append({"keypoints": np.concatenate([xy, vis[:, None]], axis=1), "bbox": box,
                    "area": float(np.count_nonzero(body)), "mask": person["mask"]})  # fmt: skip
    return img, out


def _jitter_detections(
    rng: np.random.Generator, image_id: int, boxes: list[list[float]], width: int, height: int
) -> list[dict[str, Any]]:
    """Detector-like results for one image: each GT box jittered (score 0.5..1) plus 0-2 false positives."""
    dets = []
    for x, y, w, h in boxes:
        cx = x + w / 2 + rng.normal(0, 0.05 * w)
        cy = y + h / 2 + rng.normal(0, 0.05 * h)
        w2, h2 = w * np.exp(rng.normal(0, 0.08)), h * np.exp(rng.normal(0, 0.08))
        x1, y1 = max(0.0, cx - w2 / 2), max(0.0, cy - h2 / 2)
        x2, y2 = min(width - 1.0, cx + w2 / 2), min(height - 1.0, cy + h2 / 2)
        if x2 > x1 and y2 > y1:
            dets.append((x1, y1, x2 - x1, y2 - y1, rng.uniform(0.5, 1.0)))
    for _ in range(int(rng.integers(0, 3))):
        w2, h2 = rng.uniform(0.1, 0.5) * width, rng.uniform(0.2, 0.8) * height
        x1, y1 = rng.uniform(0, width - w2), rng.uniform(0, height - h2)
        dets.append((x1, y1, w2, h2, rng.uniform(0.01, 0.45)))
    return [
        {"image_id": image_id, "category_id": 1, "bbox": [round(float(v), 2) for v in d[:4]],
         "score": round(float(d[4]), 4)}
        for d in dets
    ]  # fmt: skip


def _coco_header(split: str, seed: int, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "info": {
            "description": f"enhancenet synthetic stick-figure keypoints, split {split}",
            "version": str(GENERATOR_VERSION),
            "generator": "enhancenet_runtime.data.synthetic",
            "seed": seed,
            "params": params,
        },
        "licenses": [],
        "categories": [{
            "supercategory": "person", "id": 1, "name": "person",
            "keypoints": list(COCO_KEYPOINT_NAMES), "skeleton": [list(p) for p in COCO_SKELETON],
        }],
        "images": [],
        "annotations": [],
    }


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, separators=(",", ":")), encoding="utf-8")


def generate_synthetic_coco(
    out_dir: str | os.PathLike[str],
    num_images: int,
    seed: int = 0,
    image_size: tuple[int, int] = (256, 192),
    people_per_image: tuple[int, int] = (1, 3),
    val_fraction: float = 0.2,
    occlusion_prob: float = 0.3,
    unlabeled_prob: float = 0.02,
    image_format: str = "png",
    overwrite: bool = False,
    progress: bool = True,
) -> SyntheticDataset:
    """Write a synthetic COCO-format person-keypoint data set (train and val splits) under ``out_dir``.

    Args:
        out_dir: the data set root to create (must not exist unless ``overwrite``).
        num_images: total number of images; the last ``round(num_images * val_fraction)`` are ``val``.
        seed: non-negative integer; the same seed gives byte-identical files.
        image_size: ``(width, height)`` of every image.
        people_per_image: inclusive ``(min, max)`` number of people drawn per image.
        val_fraction: fraction of images in the ``val`` split, in [0, 1].
        occlusion_prob: probability that a person gets an occluding rectangle over one of its joints.
        unlabeled_prob: per-keypoint probability of being left unlabelled (v=0) although drawn.
        image_format: ``"png"`` (lossless) or ``"jpg"`` (quality 95).
        overwrite: replace an existing ``out_dir`` (atomically, after the new one is complete), but only a data set
            this generator made (one carrying the :data:`MARKER_NAME` file it writes); anything else is refused.
        progress: show a tqdm progress bar.

    Returns:
        A :class:`SyntheticDataset` with the paths written and the counts.

    Raises:
        ValueError: for a bad argument (naming it).
        FileExistsError: when ``out_dir`` exists and ``overwrite`` is False, or ``out_dir`` is not a data set this
            generator made (no :data:`MARKER_NAME`), which ``overwrite`` never deletes.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    if int(num_images) != num_images or num_images < 1:
        raise ValueError(f"num_images must be a positive integer, got {num_images!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    width, height = (int(v) for v in image_size)
    if len(image_size) != 2 or width < 32 or height < 32:
        raise ValueError(f"image_size must be (width, height) with both >= 32, got {image_size!r}")
    lo, hi = (int(v) for v in people_per_image)
    if len(people_per_image) != 2 or lo < 1 or hi < lo:
        raise ValueError(f"people_per_image must be (min, max) with 1 <= min <= max, got {people_per_image!r}")
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction!r}")
    for name, prob in (("occlusion_prob", occlusion_prob), ("unlabeled_prob", unlabeled_prob)):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {prob!r}")
    fmt = image_format.lower().lstrip(".")
    if fmt not in ("png", "jpg"):
        raise ValueError(f"image_format must be 'png' or 'jpg', got {image_format!r}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass overwrite=True to replace it)")
    if (out.exists() or out.is_symlink()) and not is_ours(out):
        raise FileExistsError(
            f"{out} exists and is not a synthetic data set made by enhancenet (no {MARKER_NAME} file in it); "
            "overwrite deletes only those: remove it yourself or choose another directory"
        )

    n_val = round(num_images * val_fraction)
    splits = {"train": range(0, num_images - n_val), "val": range(num_images - n_val, num_images)}
    params = {
        "image_size": [width, height], "people_per_image": [lo, hi], "val_fraction": val_fraction,
        "occlusion_prob": occlusion_prob, "unlabeled_prob": unlabeled_prob, "image_format": fmt,
        "num_images": int(num_images),
    }  # fmt: skip
    encode_args = [cv2.IMWRITE_PNG_COMPRESSION, 1] if fmt == "png" else [cv2.IMWRITE_JPEG_QUALITY, 95]

    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_work_dirs(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_json(tmp / MARKER_NAME, {"generator": "enhancenet_runtime.data.synthetic",
                                        "version": GENERATOR_VERSION, "seed": int(seed), **params})
        counts_img: dict[str, int] = {}
        counts_people: dict[str, int] = {}
        (tmp / "annotations").mkdir()
        (tmp / "person_detection_results").mkdir()
        bar = tqdm(total=int(num_images), desc="synthetic COCO", unit="img", disable=not progress)
        ann_id = 0
        for split, indices in splits.items():
            img_dir = tmp / "images" / split
            img_dir.mkdir(parents=True)
            coco = _coco_header(split, int(seed), params)
            dets: list[dict[str, Any]] = []
            for i in indices:
                rng = np.random.default_rng([int(seed), i])
                image_id = i + 1
                img, people = _draw_image(rng, width, height, (lo, hi), occlusion_prob, unlabeled_prob)
                file_name = f"{image_id:012d}.{fmt}"
                ok, buf = cv2.imencode(f".{fmt}", img, encode_args)
                if not ok:  # pragma: no cover - OpenCV failure
                    raise RuntimeError(f"OpenCV could not encode image {file_name}")
                (img_dir / file_name).write_bytes(buf.tobytes())
                coco["images"].append({"id": image_id, "file_name": file_name, "width": width, "height": height})
                for person in people:
                    ann_id += 1
                    kp = person["keypoints"]
                    x, y, w, h = person["bbox"]
                    coco["annotations"].append({
                        "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                        "keypoints": [float(v) if c < 2 else int(v) for row in kp for c, v in enumerate(row)],
                        "num_keypoints": int(np.count_nonzero(kp[:, 2] > 0)),
                        "bbox": person["bbox"], "area": person["area"],
                        "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                    })  # fmt: skip
                dets.extend(_jitter_detections(rng, image_id, [p["bbox"] for p in people], width, height))
                bar.update(1)
            _write_json(tmp / "annotations" / f"person_keypoints_{split}.json", coco)
            _write_json(tmp / "person_detection_results" / f"det_{split}.json", dets)
            counts_img[split] = len(indices)
            counts_people[split] = len(coco["annotations"])
        bar.close()
        if out.exists():  # overwrite: move the old tree aside only now that the new one is complete
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "data")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    return SyntheticDataset(
        root=out,
        annotation_files={s: out / "annotations" / f"person_keypoints_{s}.json" for s in splits},
        image_dirs={s: out / "images" / s for s in splits},
        detection_files={s: out / "person_detection_results" / f"det_{s}.json" for s in splits},
        num_images=counts_img,
        num_people=counts_people,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m enhancenet_runtime.data.synthetic OUT --num-images N --seed S [...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m enhancenet_runtime.data.synthetic",
        description="Write a deterministic synthetic COCO-format person-keypoint data set.",
    )
    parser.add_argument("out", type=Path, help="data set root to create")
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--min-people", type=int, default=1)
    parser.add_argument("--max-people", type=int, default=3)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--occlusion-prob", type=float, default=0.3)
    parser.add_argument("--format", choices=("png", "jpg"), default="png")
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace OUT if it is a data set this command made (has {MARKER_NAME}); never anything else")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        ds = generate_synthetic_coco(
            args.out, args.num_images, args.seed, image_size=(args.width, args.height),
            people_per_image=(args.min_people, args.max_people), val_fraction=args.val_fraction,
            occlusion_prob=args.occlusion_prob, image_format=args.format, overwrite=args.overwrite,
            progress=not args.no_progress,
        )  # fmt: skip
    except (ValueError, FileExistsError) as exc:
        parser.error(str(exc))
    for split in ds.annotation_files:
        print(f"{split}: {ds.num_images[split]} images, {ds.num_people[split]} people -> {ds.annotation_files[split]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
