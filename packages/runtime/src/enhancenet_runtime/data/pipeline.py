"""The top-down sample pipeline, once for every framework: record -> (patch, LR/HR targets, meta).

A sample is a dict of NumPy arrays (shapes for K joints, input ``(W_in, H_in)``)::

    image             (3, H_in, W_in) float32   normalised with ImageNet mean/std (RGB when data.color_rgb)
    joints            (K, 2)          float64   input-patch pixels (x, y), what the targets are rendered from
    joints_vis        (K,)            float64   visibility (the target weights before range checks)
    meta              dict: center (2,) float64, scale (2,) float64, rotation float, flip bool, half_body bool,
                      score float,
                      area float, image_id int, joints (K, 2) float32 in input-patch pixels (invisible joints
                      untransformed, as HRNet), joints_vis (K,) float32, image_file str, index int (from
                      PoseDataset)

The heat-map targets are rendered per batch, not per sample (a batch of HR maps is ~100 MB; the joints a few KB):
:func:`render_targets` turns ``(B, K, 2)`` joints into (LR map ``(w, h)``, HR map ``(r·w, r·h)``)::

    target_lr         (B, K, h, w)       float32   Gaussian σ          (the LR codec, enhancenet_core.codecs)
    target_weight_lr  (B, K)             float32
    target_hr         (B, K, r·h, r·w)   float32   Gaussian r·σ (Eq. 6, the HR codec); with model.head.enabled
    target_weight_hr  (B, K)             float32   only when model.head.enabled

With a DLCM config (``model.base.name: dlcm``) the LR targets are every level's (the spec's
:func:`enhancenet_core.compositional.dlcm_codecs`; level 1 is the same Gaussian as above, the HR target the
joint Gaussian at r·σ, since EnhanceNet enhances the final joint maps only)::

    target_level{l}         (B, P_l, h, w)  float32   bone maps of level l = 2 .. L (12 and 6 parts for MPII)
    target_weight_level{l}  (B, P_l)        float32   0/1 (a part is drawn when its joints are)

and the collate step adds them (:func:`collate_samples` with ``cfg``, :meth:`PoseDataset.collate`); the
arrays equal those of rendering each sample alone.

``build_train_sample`` draws HRNet's augmentation from an explicit generator; ``build_test_sample`` crops the
record's box unaugmented (flip test is the framework's job, with :mod:`enhancenet_core.flip`).
:class:`PoseDataset` is a plain-Python map-style data set (``__len__``/``__getitem__``) that torch, paddle and
mindspore wrap thinly: sample ``i`` of epoch ``e`` uses ``default_rng([seed, e, i])``, so results do not depend
on the number of workers or the order samples are fetched in.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from enhancenet_core.codecs import heatmap_codecs
from enhancenet_core.compositional import dlcm_codecs, level_target_keys
from enhancenet_core.config import Config
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.datasets import RecordLoader, dataset_info
from enhancenet_core.transforms import affine_transform, get_affine_transform
from enhancenet_runtime.data.augmentation import (
    AugmentationParams,
    apply_flip,
    no_augmentation,
    sample_augmentation,
)
from enhancenet_runtime.data.coco import LoadResult, load_coco_records
from enhancenet_runtime.data.image import normalize_image, read_image, warp_patch
from enhancenet_runtime.data.mpii import load_mpii_records_from_config
from enhancenet_runtime.data.records import PoseRecord

__all__ = [
    "RECORD_LOADERS",
    "PoseDataset",
    "build_sample",
    "build_test_sample",
    "build_train_sample",
    "collate_samples",
    "load_records",
    "render_targets",
]


def _check_record(record: PoseRecord, cfg: Config) -> None:
    if record.num_joints != cfg.model.num_keypoints:
        raise ValueError(
            f"record of {record.image} has {record.num_joints} joints but model.num_keypoints is "
            f"{cfg.model.num_keypoints}"
        )


def build_sample(
    record: PoseRecord,
    cfg: Config,
    params: AugmentationParams,
    image: NDArray[np.uint8] | None = None,
) -> dict[str, Any]:
    """Crop and transform joints for ``record`` under the decisions ``params`` (replayable); the targets are
    rendered per batch (:func:`render_targets`, in the collate step).

    Args:
        record: the instance.
        cfg: ``model.input_size``, ``data.flip_pairs``, ``data.pixel_std``, ``data.color_rgb``.
        params: from :func:`~enhancenet_runtime.data.augmentation.sample_augmentation` or ``no_augmentation``.
        image: the decoded ``(H, W, 3)`` image (RGB/BGR per ``cfg.data.color_rgb``); read from
            ``record.image`` when None.

    Returns:
        The sample dict described in the module docstring.
    """
    _check_record(record, cfg)
    if image is None:  # decoded as stored (BGR); only the patch is converted to RGB
        return _build_sample(record, cfg, params, read_image(record.image, color_rgb=False), cfg.data.color_rgb)
    return _build_sample(record, cfg, params, image, False)


def _build_sample(
    record: PoseRecord, cfg: Config, params: AugmentationParams, img: NDArray[np.uint8], bgr_to_rgb: bool
) -> dict[str, Any]:
    """:func:`build_sample` on a decoded image; ``bgr_to_rgb``: ``img`` is BGR and the patch is converted."""
    joints = np.asarray(record.joints_xy, dtype=np.float64)
    vis = np.asarray(record.joints_vis, dtype=np.float64)
    if params.flip:
        img, joints, vis = apply_flip(img, joints, vis, cfg.data.flip_pairs)
    input_size = cfg.model.input_size
    conv = cfg.target.convention  # the crop affine: DarkPose's for DARKPOSE, else HRNet's
    trans = get_affine_transform(params.center, params.scale, params.rotation, input_size, pixel_std=cfg.data.pixel_std,
                                 convention=conv)
    patch = warp_patch(img, trans, input_size, bgr_to_rgb=bgr_to_rgb)  # crop_patch with the affine computed once
    # HRNet transforms only visible joints; the others keep their (image or zeroed) coordinates.
    joints_patch = np.where(vis[:, None] > 0, affine_transform(joints, trans), joints)

    sample: dict[str, Any] = {"image": normalize_image(patch), "joints": joints_patch, "joints_vis": vis}
    sample["meta"] = {
        "center": np.asarray(params.center, dtype=np.float64),
        "scale": np.asarray(params.scale, dtype=np.float64),
        "rotation": float(params.rotation),
        "flip": bool(params.flip),
        "half_body": bool(params.half_body),
        "score": float(record.score),
        "area": float(record.area),
        "image_id": int(record.image_id),
        "joints": joints_patch.astype(np.float32),
        "joints_vis": vis.astype(np.float32),
        "image_file": str(record.image),
    }
    return sample


def build_train_sample(
    record: PoseRecord,
    cfg: Config,
    rng: np.random.Generator,
    image: NDArray[np.uint8] | None = None,
) -> dict[str, Any]:
    """A training sample: HRNet's augmentation drawn from ``rng`` (see :mod:`~enhancenet_runtime.data.augmentation`),
    then :func:`build_sample`."""
    _check_record(record, cfg)
    bgr_to_rgb = image is None and cfg.data.color_rgb  # decoded as stored; only the patch is converted
    img = read_image(record.image, color_rgb=False) if image is None else image
    info = dataset_info(cfg.data.dataset)
    upper, lower = info.upper_body_ids, info.lower_body_ids
    w_in, h_in = cfg.model.input_size
    params = sample_augmentation(
        rng, record.joints_xy, record.joints_vis, record.center, record.scale, img.shape[1],
        cfg.data.augmentation, w_in / h_in, upper, lower, cfg.data.pixel_std,
    )  # fmt: skip
    return _build_sample(record, cfg, params, img, bgr_to_rgb)


def build_test_sample(
    record: PoseRecord, cfg: Config, image: NDArray[np.uint8] | None = None
) -> dict[str, Any]:
    """A test sample: the record's own crop, no augmentation (its joints; zero for detections)."""
    return build_sample(record, cfg, no_augmentation(record.center, record.scale), image)


#: The record reader of each :class:`~enhancenet_core.datasets.RecordLoader` (a data-set row names one).
RECORD_LOADERS = {
    RecordLoader.COCO: load_coco_records,  # HRNet COCO layout under data.root (coco, synthetic)
    RecordLoader.MPII: load_mpii_records_from_config,  # annot/<set>.json under data.root
}


def load_records(cfg: Config, train: bool, check_images: bool = True) -> LoadResult:
    """Records for ``cfg.data.dataset``, read by the loader its row of the data-set table names: the HRNet COCO
    layout under ``data.root`` (:func:`~enhancenet_runtime.data.coco.load_coco_records`; coco, synthetic) or
    HRNet's MPII ``annot/<set>.json`` (:func:`~enhancenet_runtime.data.mpii.load_mpii_records_from_config`)."""
    return RECORD_LOADERS[dataset_info(cfg.data.dataset).loader](cfg, train, check_images)


class PoseDataset:
    """Framework-neutral map-style data set of top-down samples.

    Args:
        records: the instances (a :class:`~enhancenet_runtime.data.coco.LoadResult` or a sequence of records).
        cfg: the experiment config.
        train: augmented training samples (True) or unaugmented test samples (False).
        seed: base seed of the per-sample generators (default ``cfg.train.seed``).

    Sample ``i`` in epoch ``e`` is built with ``numpy.random.default_rng([seed, e, i])``; call
    :meth:`set_epoch` at the start of every epoch (or use :meth:`sample` with an explicit epoch, e.g. from a
    sampler, when workers are persistent and do not see the attribute change).
    """

    def __init__(
        self,
        records: LoadResult | Sequence[PoseRecord],
        cfg: Config,
        train: bool,
        seed: int | None = None,
    ) -> None:
        self.records: tuple[PoseRecord, ...] = tuple(records.records if isinstance(records, LoadResult) else records)
        self.cfg = cfg
        self.train = bool(train)
        self.seed = int(cfg.train.seed if seed is None else seed)
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        self.epoch = 0
        for r in self.records:
            _check_record(r, cfg)

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation :meth:`__getitem__` draws."""
        if int(epoch) < 0:
            raise ValueError(f"epoch must be non-negative, got {epoch}")
        self.epoch = int(epoch)

    def rng_for(self, index: int, epoch: int | None = None) -> np.random.Generator:
        """The generator of sample ``index`` in ``epoch`` (default: the current epoch)."""
        e = self.epoch if epoch is None else int(epoch)
        return np.random.default_rng([self.seed, e, int(index)])

    def sample(self, index: int, epoch: int | None = None) -> dict[str, Any]:
        """Sample ``index`` of ``epoch`` (default: the current epoch)."""
        n = len(self.records)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a data set of {n} samples")
        i = index % n
        record = self.records[i]
        if self.train:
            out = build_train_sample(record, self.cfg, self.rng_for(i, epoch))
        else:
            out = build_test_sample(record, self.cfg)
        out["meta"]["index"] = i
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.sample(index)

    def collate(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The batch of ``samples`` with its targets rendered in one call (a loader's collate function)."""
        return collate_samples(samples, self.cfg)

    def targets(self, joints: NDArray, joints_vis: NDArray) -> dict[str, NDArray[np.float32]]:
        """:func:`render_targets` under this data set's config (for loaders that stack samples themselves)."""
        return render_targets(joints, joints_vis, self.cfg)


def render_targets(joints: NDArray, joints_vis: NDArray, cfg: Config) -> dict[str, NDArray[np.float32]]:
    """The heat-map targets of a batch in one call per map size: ``(B, K, 2)`` input-patch joints and ``(B, K)``
    visibility -> ``target_lr``, ``target_weight_lr`` and, with the head, ``target_hr``, ``target_weight_hr``.

    The one place the pipeline renders targets: the encoders of the experiment's codecs
    (:func:`enhancenet_core.codecs.heatmap_codecs`: sizes, σ and convention from the config). A DLCM config
    adds every composite level's bone maps, ``target_level{l}`` / ``target_weight_level{l}`` (the spec's
    :func:`enhancenet_core.compositional.dlcm_codecs`, batched: one call per level for the whole batch).
    """
    joints = np.asarray(joints, dtype=np.float64)
    vis = np.asarray(joints_vis, dtype=np.float64)
    codecs = heatmap_codecs(cfg)
    out: dict[str, NDArray[np.float32]] = {}
    if cfg.model.base.name is BaseModelName.DLCM:
        levels = dlcm_codecs(cfg).lr.encode(joints, vis)
        for lv, (maps, weights) in enumerate(zip(levels.maps, levels.weights, strict=True), start=1):
            t_key, w_key = level_target_keys(lv)  # level 1: target_lr / target_weight_lr
            out[t_key], out[w_key] = maps, weights
    else:
        out["target_lr"], out["target_weight_lr"] = codecs.lr.encode(joints, vis)
    if cfg.model.head.enabled:
        hr, hr_w = codecs.hr.encode(joints, vis)
        out.update(target_hr=hr, target_weight_hr=hr_w)
    return out


def collate_samples(samples: Sequence[Mapping[str, Any]], cfg: Config | None = None) -> dict[str, Any]:
    """Stack a list of sample dicts into one batch dict (recursively for ``meta``).

    Arrays are stacked on a new leading axis (``(B, ...)``), numbers and booleans become ``(B,)`` arrays,
    strings and anything else become lists. All samples must have the same keys. With ``cfg``, and samples
    from :func:`build_sample`, the batch's ``joints`` and ``joints_vis`` are replaced by its targets
    (:func:`render_targets`; ``meta`` keeps the joints).
    """
    if not samples:
        raise ValueError("collate_samples: need at least one sample")
    keys = list(samples[0].keys())
    for i, s in enumerate(samples[1:], start=1):
        if list(s.keys()) != keys:
            raise ValueError(f"collate_samples: sample {i} has keys {sorted(s)} but sample 0 has {sorted(keys)}")
    out: dict[str, Any] = {}
    for key in keys:
        values = [s[key] for s in samples]
        first = values[0]
        if isinstance(first, Mapping):
            out[key] = collate_samples(values)
        elif isinstance(first, np.ndarray):
            shapes = {v.shape for v in values}
            if len(shapes) != 1:
                raise ValueError(f"collate_samples: '{key}' has different shapes {sorted(shapes)}")
            out[key] = np.stack(values)
        elif isinstance(first, bool | np.bool_ | numbers.Number):
            out[key] = np.asarray(values)
        else:
            out[key] = list(values)
    if cfg is not None and "joints" in out and "joints_vis" in out:
        out.update(render_targets(out.pop("joints"), out.pop("joints_vis"), cfg))
    return out
