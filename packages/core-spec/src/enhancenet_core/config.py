"""Typed configuration of an EnhanceNet experiment: schema, loading, validation, overrides, JSON Schema.

Frozen dataclasses, validated once at the edge (:func:`load_config`, :func:`config_from_dict`), so everything
below takes typed values. Field names follow the HRNet code base where one exists (``sigma``, ``flip_pairs``,
``use_target_weight``, ``flip_test``, ``post_process``, ``oks_thre``, ``in_vis_thre``).

Sizes are ``(width, height)`` as in HRNet's ``IMAGE_SIZE`` / ``HEATMAP_SIZE``.

Files are YAML (``.yaml``/``.yml``) or JSON (``.json``). A file may start from others with a top-level
``_base_: other.yaml`` (or a list of files, merged in order), paths relative to the file; mappings are merged
recursively, anything else (lists included) is replaced. Dotted overrides (``model.head.upscale=2``, value
parsed as YAML) are applied by :func:`override` or ``load_config(path, overrides=[...])``.

Every bad input raises :class:`ConfigError` (a ``ValueError``) whose message starts with the full field path
(``model.head.upscale``) and says what was expected.
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import inspect
import io
import json
import math
import os
import re
import tempfile
import tokenize
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from enhancenet_core.complexity import deconv_padding
from enhancenet_core.conventions import (
    BaseModelName,
    CoordinateConvention,
    Decoder,
    FlipShiftRule,
    HeadInput,
    PretrainedScope,
    ShuffleOrder,
    Upsampler,
)
from enhancenet_core.datasets import DATASET_FILE_SUFFIXES, DatasetName, dataset_info

__all__ = [
    "COCO_FLIP_PAIRS",
    "MPII_FLIP_PAIRS",
    "AugmentationConfig",
    "BaseModelConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "EnhanceNetConfig",
    "LossConfig",
    "ModelConfig",
    "SplitFiles",
    "TargetConfig",
    "TestConfig",
    "TrainConfig",
    "base_model_stride",
    "config_from_dict",
    "config_json_schema",
    "config_to_dict",
    "list_shipped_configs",
    "load_config",
    "override",
    "required_input_multiple",
    "save_config",
    "shipped_config_path",
    "validate_config",
]

# [datasets] the pairs live in the data-set table (enhancenet_core.datasets); re-exported here.
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = dataset_info(DatasetName.COCO).flip_pairs
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = dataset_info(DatasetName.MPII).flip_pairs


@dataclass(frozen=True)
class EnhanceNetConfig:
    """The EnhanceNet head (Sec. 3.1). Paper setting: L=3, C=128, r=4, sub-pixel, input F+M."""

    enabled: bool = True  # attach the head; false trains/evaluates the base model alone
    inputs: HeadInput = HeadInput.BOTH  # x = F^LR, M^LR or [F^LR, M^LR] (Eq. 1, Table 5a)
    num_layers: int = 3  # L, counting the upsampling layer: L-1 regular convs + 1 upsampler
    channels: int = 128  # C, width of the L-1 regular convs
    upscale: int = 4  # r
    first_kernel: int = 1  # kernel of w_1 (1x1: channel reduction)
    kernel: int = 3  # kernel of w_2 .. w_{L-1}
    upsampler: Upsampler = Upsampler.SUBPIXEL  # the L-th layer (Table 5c)
    upsampler_kernel: int = 3  # kernel of the L-th layer: 3 for sub-pixel / bilinear+conv; 3 or 12 for deconv
    shuffle_order: ShuffleOrder = ShuffleOrder.FRAMEWORK  # channel order the last conv's weights are stored in


@dataclass(frozen=True)
class BaseModelConfig:
    """The base pose model that produces (F^LR, M^LR).

    Only the fields of the chosen ``name`` are read: ``depth`` for simple_baseline / cpn (ResNet 18..152),
    ``width`` for hrnet (32 or 48), ``stages`` for hourglass (stacks: 2, 4, 8).
    """

    name: BaseModelName = BaseModelName.SIMPLE_BASELINE  # base pose model
    depth: int = 50  # ResNet depth (simple_baseline, cpn): 18, 34, 50, 101 or 152
    width: int = 32  # HRNet width (hrnet): 18, 32 or 48
    stages: int = 4  # number of stacked hourglasses (hourglass)
    num_deconv_layers: int = 3  # SimpleBaseline
    deconv_channels: int = 256  # SimpleBaseline
    deconv_kernel: int = 4  # SimpleBaseline
    final_conv_kernel: int = 1  # heat-map layer
    hourglass_channels: int = 256  # stacked hourglass feature width
    hourglass_blocks: int = 1  # residual blocks per hourglass stage
    pretrained: str | None = None  # local path to ImageNet weights; never downloaded
    pretrained_scope: PretrainedScope = PretrainedScope.BACKBONE  # backbone only, or the whole base model


@dataclass(frozen=True)
class ModelConfig:
    """Base model, EnhanceNet head, keypoints and patch / heat-map geometry."""

    base: BaseModelConfig = field(default_factory=BaseModelConfig)  # the base pose model
    head: EnhanceNetConfig = field(default_factory=EnhanceNetConfig)  # the EnhanceNet head
    num_keypoints: int = 17  # K
    input_size: tuple[int, int] = (192, 256)  # (width, height) of the input patch
    heatmap_stride: int = 4  # s: input size / LR heat-map size

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(width, height) of M^LR."""
        return (self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride)

    @property
    def hr_heatmap_size(self) -> tuple[int, int]:
        """(width, height) of M^HR = r * size of M^LR."""
        w, h = self.heatmap_size
        return (w * self.head.upscale, h * self.head.upscale)


@dataclass(frozen=True)
class TargetConfig:
    """Gaussian targets: LR with ``sigma``, HR with ``upscale * sigma`` (Eq. 6)."""

    sigma: float = 2.0  # std of the LR Gaussian in LR heat-map pixels; M^HR uses r * sigma
    convention: CoordinateConvention = CoordinateConvention.LEGACY  # grid alignment (legacy HRNet or unbiased)


@dataclass(frozen=True)
class LossConfig:
    """L = lr_weight * L^LR + hr_weight * L^HR (Eq. 8, eta = hr_weight = 1)."""

    hr_weight: float = 1.0  # eta
    lr_weight: float = 1.0  # weight of the base model's loss L^LR
    use_target_weight: bool = True  # mask joints by their visibility weight (HRNet)
    ohkm: bool = False  # online hard keypoint mining (CPN), applied after EnhanceNet
    ohkm_topk: int = 8  # OHKM keeps the top-k joint losses (1 <= k <= K)


@dataclass(frozen=True)
class AugmentationConfig:
    """HRNet's training augmentation."""

    flip: bool = True  # random horizontal flip (p = 0.5) with flip_pairs
    scale_factor: float = 0.35  # scale jitter: scale *= clip(1 + N(0,1) * f, 1 - f, 1 + f)
    rotation_factor: float = 45.0  # rotation jitter in degrees: clip(N(0,1) * f, -2f, 2f)
    rotation_prob: float = 0.6  # probability of applying the rotation
    half_body_prob: float = 0.3  # probability of a half-body crop (0 disables)
    num_joints_half_body: int = 8  # half-body crop only when more visible joints than this


@dataclass(frozen=True)
class SplitFiles:  # [datasets] files of one split, named directly instead of HRNet's layout under data.root
    """The annotation file and image directory of one split; empty: HRNet's layout under ``data.root``."""

    annotations: str = ""  # annotation file (COCO-format JSON; HRNet's MPII JSON for loader mpii)
    images: str = ""  # directory the annotation file's image names are relative to


@dataclass(frozen=True)
class DataConfig:
    """Data set, splits, flip pairs, augmentation and crop geometry."""

    dataset: str = DatasetName.COCO  # a shipped data set (coco, mpii, ...) or a data-set file (.yaml/.yml/.json)
    root: str = ""  # data set root; for synthetic, where it is generated
    train_set: str = "train2017"  # training split name
    test_set: str = "val2017"  # evaluation split name
    train: SplitFiles = field(default_factory=SplitFiles)  # training files (default: layout under root)
    test: SplitFiles = field(default_factory=SplitFiles)  # evaluation files (default: layout under root)
    flip_pairs: tuple[tuple[int, int], ...] | None = None  # (left, right) keypoint pairs; null: the data set's
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)  # training augmentation
    color_rgb: bool = True  # feed RGB (true) or OpenCV's BGR (false)
    pixel_std: float = 200.0  # HRNet's scale unit: scale = box size / pixel_std
    bbox_scale: float = 1.25  # box -> scale enlargement

    def __post_init__(self) -> None:  # [datasets] a shipped name as the enum; flip_pairs default to the row's
        if not isinstance(self.dataset, DatasetName) and self.dataset in tuple(DatasetName):
            object.__setattr__(self, "dataset", DatasetName(self.dataset))
        if self.flip_pairs is None:
            try:
                object.__setattr__(self, "flip_pairs", dataset_info(self.dataset).flip_pairs)
            except (ValueError, FileNotFoundError):  # a bad data.dataset: validate_config reports it
                pass


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer, schedule and run settings."""

    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3  # base learning rate
    lr_steps: tuple[int, ...] = (170, 200)  # epochs at which lr is multiplied by lr_factor (increasing)
    lr_factor: float = 0.1  # step decay factor
    weight_decay: float = 0.0  # L2 weight decay
    momentum: float = 0.9  # sgd only
    epochs: int = 210  # total training epochs
    batch_size: int = 32  # per process
    seed: int = 0  # random seed (>= 0)
    workers: int = 4  # data-loading worker processes
    amp: bool = True  # used only on CUDA


@dataclass(frozen=True)
class TestConfig:
    """Evaluation settings (HRNet's TEST section)."""

    flip_test: bool = True  # average with the prediction of the flipped patch
    flip_shift: FlipShiftRule = FlipShiftRule.HRNET  # shift of the flipped-back maps: hrnet | exact | none
    post_process: bool = True  # refine decoded peaks (see decoder)
    decoder: Decoder = Decoder.ARGMAX_QUARTER  # heat map -> coordinates
    use_hr: bool = True  # decode M^HR when EnhanceNet is on, else M^LR
    use_gt_bbox: bool = False  # ground-truth boxes (true) or detections from bbox_file (false)
    bbox_file: str = ""  # person detections (COCO results JSON)
    image_thre: float = 0.0  # keep detections scoring above this
    in_vis_thre: float = 0.2  # keypoint score threshold used in rescoring
    oks_thre: float = 0.9  # OKS-NMS threshold
    batch_size: int = 32  # per process


@dataclass(frozen=True)
class Config:
    """A whole experiment: model, targets, loss, data, training and testing."""

    model: ModelConfig = field(default_factory=ModelConfig)  # network
    target: TargetConfig = field(default_factory=TargetConfig)  # ground-truth heat maps
    loss: LossConfig = field(default_factory=LossConfig)  # training loss
    data: DataConfig = field(default_factory=DataConfig)  # data set and augmentation
    train: TrainConfig = field(default_factory=TrainConfig)  # optimisation
    test: TestConfig = field(default_factory=TestConfig)  # evaluation


# ----------------------------------------------------------------------------------------------------------
# Errors and value rules
# ----------------------------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """Invalid configuration. ``path`` is the dotted field path (``model.head.upscale``), ``source`` the file."""

    def __init__(self, path: str, message: str, source: str | os.PathLike[str] | None = None) -> None:
        self.path = path
        self.detail = message
        self.source = None if source is None else str(source)
        text = f"{path}: {message}" if path else message
        if self.source:
            text = f"{text} (in {self.source})"
        super().__init__(text)

    def with_source(self, source: str | os.PathLike[str]) -> ConfigError:
        """The same error, naming the file it came from (the innermost file wins)."""
        return self if self.source else ConfigError(self.path, self.detail, source)


@dataclass(frozen=True)
class _Rule:
    """Constraint on one numeric or string field (on each item for tuple fields); also exported to the schema."""

    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    odd: bool = False
    pattern: str | None = None  # with choices: a string matching this regex is also accepted

    def check(self, value: Any) -> str | None:
        """Return what was expected when ``value`` breaks the rule, else None."""
        if self.pattern is not None and isinstance(value, str) and re.search(self.pattern, value):
            return None
        if self.choices is not None and value not in self.choices:
            alt = f" or a data-set file ({', '.join(DATASET_FILE_SUFFIXES)})" if self.pattern else ""
            return f"one of {list(self.choices)}{alt}"
        parts = []
        if self.minimum is not None:
            parts.append((value >= self.minimum, f">= {self.minimum}"))
        if self.exclusive_minimum is not None:
            parts.append((value > self.exclusive_minimum, f"> {self.exclusive_minimum}"))
        if self.maximum is not None:
            parts.append((value <= self.maximum, f"<= {self.maximum}"))
        if self.exclusive_maximum is not None:
            parts.append((value < self.exclusive_maximum, f"< {self.exclusive_maximum}"))
        if self.odd:
            parts.append((value % 2 == 1, "odd (a 'same' padding must keep the map size)"))
        failed = [text for ok, text in parts if not ok]
        return "a value " + " and ".join(failed) if failed else None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.choices is not None and self.pattern is not None:
            out["anyOf"] = [{"enum": list(self.choices)}, {"pattern": self.pattern}]
        elif self.choices is not None:
            out["enum"] = list(self.choices)
        for key, value in (
            ("minimum", self.minimum),
            ("exclusiveMinimum", self.exclusive_minimum),
            ("maximum", self.maximum),
            ("exclusiveMaximum", self.exclusive_maximum),
        ):
            if value is not None:
                out[key] = value
        if self.odd:
            out["not"] = {"multipleOf": 2}
        return out


RESNET_DEPTHS = (18, 34, 50, 101, 152)
_DATASET_FILE_PATTERN = r"(?i)\.(ya?ml|json)$"  # [datasets] data.dataset values that name a data-set file
HRNET_WIDTHS = (18, 32, 48)
OPTIMIZERS = ("adam", "sgd")
SIMPLE_BASELINE_DECONV_KERNELS = (2, 3, 4)  # HRNet/SimpleBaseline support exactly these

_PROB = _Rule(minimum=0.0, maximum=1.0)
_RULES: dict[str, _Rule] = {
    "model.base.depth": _Rule(choices=RESNET_DEPTHS),
    "model.base.width": _Rule(choices=HRNET_WIDTHS),
    "model.base.stages": _Rule(minimum=1),
    "model.base.num_deconv_layers": _Rule(minimum=0, maximum=5),
    "model.base.deconv_channels": _Rule(minimum=1),
    "model.base.deconv_kernel": _Rule(choices=SIMPLE_BASELINE_DECONV_KERNELS),
    "model.base.final_conv_kernel": _Rule(minimum=1, odd=True),
    "model.base.hourglass_channels": _Rule(minimum=1),
    "model.base.hourglass_blocks": _Rule(minimum=1),
    "model.head.num_layers": _Rule(minimum=2),
    "model.head.channels": _Rule(minimum=1),
    "model.head.upscale": _Rule(minimum=1),
    "model.head.first_kernel": _Rule(minimum=1, odd=True),
    "model.head.kernel": _Rule(minimum=1, odd=True),
    "model.head.upsampler_kernel": _Rule(minimum=1),
    "model.num_keypoints": _Rule(minimum=1),
    "model.input_size": _Rule(minimum=1),
    "model.heatmap_stride": _Rule(minimum=1),
    "target.sigma": _Rule(exclusive_minimum=0.0),
    "loss.hr_weight": _Rule(minimum=0.0),
    "loss.lr_weight": _Rule(minimum=0.0),
    "loss.ohkm_topk": _Rule(minimum=1),
    # [datasets] a row of the table or a data-set file
    "data.dataset": _Rule(choices=tuple(d.value for d in DatasetName), pattern=_DATASET_FILE_PATTERN),
    "data.flip_pairs": _Rule(minimum=0),
    "data.augmentation.scale_factor": _Rule(minimum=0.0, exclusive_maximum=1.0),
    "data.augmentation.rotation_factor": _Rule(minimum=0.0),
    "data.augmentation.rotation_prob": _PROB,
    "data.augmentation.half_body_prob": _PROB,
    "data.augmentation.num_joints_half_body": _Rule(minimum=0),
    "data.pixel_std": _Rule(exclusive_minimum=0.0),
    "data.bbox_scale": _Rule(exclusive_minimum=0.0),
    "train.optimizer": _Rule(choices=OPTIMIZERS),
    "train.lr": _Rule(exclusive_minimum=0.0),
    "train.lr_steps": _Rule(minimum=1),
    "train.lr_factor": _Rule(exclusive_minimum=0.0),
    "train.weight_decay": _Rule(minimum=0.0),
    "train.momentum": _Rule(minimum=0.0, exclusive_maximum=1.0),
    "train.epochs": _Rule(minimum=1),
    "train.batch_size": _Rule(minimum=1),
    "train.seed": _Rule(minimum=0),
    "train.workers": _Rule(minimum=0),
    "test.image_thre": _PROB,
    "test.in_vis_thre": _PROB,
    "test.oks_thre": _PROB,
    "test.batch_size": _Rule(minimum=1),
}


# ----------------------------------------------------------------------------------------------------------
# dict -> Config (types) and Config -> dict
# ----------------------------------------------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _got(value: Any) -> str:
    return f"got {type(value).__name__} {value!r}"


def _convert(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the type hint ``tp`` and return it converted (lists -> tuples, str -> enum)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _convert(value, non_none[0], path)
        raise ConfigError(path, f"unsupported type {tp}")  # pragma: no cover - not used by the schema
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(path, f"expected a list, {_got(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(path, f"expected a list of {len(args)} items, got {len(value)} items {list(value)!r}")
        return tuple(_convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if is_dataclass(tp):
        return _dataclass_from_dict(tp, value, path)
    if isinstance(tp, type) and issubclass(tp, Enum):
        if isinstance(value, tp):
            return value
        if isinstance(value, str):
            try:
                return tp(value)
            except ValueError:
                pass
        raise ConfigError(path, f"expected one of {[m.value for m in tp]}, {_got(value)}")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected a boolean (true/false), {_got(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected an integer, {_got(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, {_got(value)}")
        if not math.isfinite(value):
            raise ConfigError(path, f"expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, {_got(value)}")
        return value
    raise ConfigError(path, f"unsupported type {tp}")  # pragma: no cover - not used by the schema


def _dataclass_from_dict(cls: type, data: Any, path: str) -> Any:
    if isinstance(data, cls):
        data = _to_plain(data)
    if not isinstance(data, Mapping):
        raise ConfigError(path or "<root>", f"expected a mapping of the fields of {cls.__name__}, {_got(data)}")
    hints = _hints(cls)
    names = [f.name for f in fields(cls)]
    for key in data:
        if key not in names:
            where = f"{path}.{key}" if path else str(key)
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            extra = " (_base_ is resolved only when loading a file)" if key == "_base_" else ""
            raise ConfigError(where, f"unknown key{extra}; allowed keys: {', '.join(names)}{hint}")
    kwargs = {}
    for name in names:
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], f"{path}.{name}" if path else name)
    return cls(**kwargs)


def _to_plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_to_plain(v) for v in value]
    return value


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Plain, JSON/YAML-ready dict of every field (enums as their strings, tuples as lists).

    ``config_from_dict(config_to_dict(cfg)) == cfg`` and ``config_to_dict(config_from_dict(d)) == d`` for any
    ``d`` produced by this function.
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"config_to_dict: expected a Config, got {type(cfg).__name__}")
    return _to_plain(cfg)


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a (possibly partial) nested mapping.

    Missing keys take their defaults. Enum fields accept their string values, tuple fields accept lists,
    float fields accept integers. Raises :class:`ConfigError` naming the field path on an unknown key, a wrong
    type or an impossible value.
    """
    cfg = _dataclass_from_dict(Config, data, "")
    validate_config(cfg)
    return cfg


# ----------------------------------------------------------------------------------------------------------
# Value and cross-field validation
# ----------------------------------------------------------------------------------------------------------


def base_model_stride(base: BaseModelConfig) -> int:
    """Ratio input size / ``M^LR`` size that the base model produces.

    SimpleBaseline: ResNet's 32, halved by each stride-2 deconvolution (32 / 2^num_deconv_layers, 4 for 3
    layers). HRNet, stacked hourglass and CPN: 4.
    """
    if BaseModelName(base.name) is BaseModelName.SIMPLE_BASELINE:
        return 32 // 2**base.num_deconv_layers
    return 4


#: Stride-2 stages of the ResNet trunk (SimpleBaseline, CPN): conv1, max-pool, layer2, layer3, layer4.
RESNET_DOWNSAMPLINGS = 5
#: HRNet: two stride-2 stem convs (stride 4), then branches at strides 8, 16, 32 whose fuse layers
#: upsample by exact powers of two.
HRNET_DOWNSAMPLINGS = 2 + 3
#: Stacked hourglass: stride-2 conv + max-pool (stride 4), then 2x poolings inside each hourglass whose
#: nearest-neighbour 2x upsampling must give back the exact size.
HOURGLASS_DEPTH = 4
HOURGLASS_DOWNSAMPLINGS = 2 + HOURGLASS_DEPTH


def required_input_multiple(base: BaseModelConfig | BaseModelName | str) -> int:
    """The number the input width and height must be multiples of for the base model to work exactly.

    Every stride-2 stage halves the map and a later stage puts maps of two resolutions together (deconv
    output vs. heat-map size, FPN / fuse / hourglass skip additions), so the input must survive all
    halvings without rounding: 2 ** (number of stride-2 stages).

    - SimpleBaseline, CPN: 32 (ResNet trunk, :data:`RESNET_DOWNSAMPLINGS` = 5 stride-2 stages).
    - HRNet: 32 (stem at stride 4, branches to stride 32).
    - Stacked hourglass: 64 (stem at stride 4, then :data:`HOURGLASS_DEPTH` = 4 poolings per hourglass).

    Args:
        base: a :class:`BaseModelConfig`, a :class:`BaseModelName` or its string value.
    """
    name = BaseModelName(base.name if isinstance(base, BaseModelConfig) else base)
    downsamplings = {
        BaseModelName.SIMPLE_BASELINE: RESNET_DOWNSAMPLINGS,
        BaseModelName.CPN: RESNET_DOWNSAMPLINGS,
        BaseModelName.HRNET: HRNET_DOWNSAMPLINGS,
        BaseModelName.HOURGLASS: HOURGLASS_DOWNSAMPLINGS,
    }[name]
    return 2**downsamplings


_INPUT_MULTIPLE_REASON = {
    BaseModelName.SIMPLE_BASELINE: f"its ResNet trunk has {RESNET_DOWNSAMPLINGS} stride-2 stages",
    BaseModelName.CPN: f"its ResNet trunk has {RESNET_DOWNSAMPLINGS} stride-2 stages",
    BaseModelName.HRNET: "its 4 branches run at strides 4, 8, 16 and 32",
    BaseModelName.HOURGLASS: f"stride 4, then {HOURGLASS_DEPTH} poolings in each hourglass",
}


def _check_rules(value: Any, path: str) -> None:
    if is_dataclass(value):
        for f in fields(value):
            _check_rules(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
        return
    rule = _RULES.get(path)
    if rule is None:
        return
    items = [(f"{path}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, tuple) else [(path, value)]
    for where, item in items:
        if isinstance(item, tuple):  # pairs: the rule applies to each index
            for j, sub in enumerate(item):
                expected = rule.check(sub)
                if expected:
                    raise ConfigError(f"{where}[{j}]", f"expected {expected}, got {sub!r}")
            continue
        expected = rule.check(item.value if isinstance(item, Enum) else item)
        if expected:
            raise ConfigError(where, f"expected {expected}, got {item!r}")


def _dataset_row(cfg: Config) -> Any:  # [datasets]
    """The data-set row of ``data.dataset`` (a data-set file is parsed once: ``dataset_info`` caches it)."""
    try:
        return dataset_info(cfg.data.dataset)
    except (ValueError, FileNotFoundError) as exc:
        raise ConfigError("data.dataset", str(exc).removeprefix("data.dataset: ")) from None


def validate_config(cfg: Config) -> None:
    """Check value ranges and cross-field consistency of an already typed config; raise :class:`ConfigError`."""
    if cfg.data.flip_pairs is None:  # [datasets] data.dataset's row could not be read: say why first
        _dataset_row(cfg)
    _check_rules(cfg, "")
    model, head = cfg.model, cfg.model.head
    k = model.num_keypoints

    if head.upsampler is Upsampler.DECONV:
        try:
            deconv_padding(head.upsampler_kernel, head.upscale)
        except ValueError as exc:
            raise ConfigError("model.head.upsampler_kernel", str(exc)) from None
    elif head.upsampler_kernel % 2 == 0:
        raise ConfigError(
            "model.head.upsampler_kernel",
            f"expected an odd kernel for the '{head.upsampler.value}' upsampler (its conv keeps the map size "
            f"with 'same' padding), got {head.upsampler_kernel}",
        )

    s = model.heatmap_stride
    for axis, name in enumerate(("width", "height")):
        if model.input_size[axis] % s:
            raise ConfigError(
                f"model.input_size[{axis}]",
                f"expected the input {name} to be divisible by model.heatmap_stride={s}, "
                f"got {model.input_size[axis]}",
            )
    multiple = required_input_multiple(model.base)
    for axis, name in enumerate(("width", "height")):
        if model.input_size[axis] % multiple:
            raise ConfigError(
                f"model.input_size[{axis}]",
                f"expected the input {name} to be a multiple of {multiple} for base model "
                f"'{model.base.name.value}' ({_INPUT_MULTIPLE_REASON[model.base.name]}), "
                f"got {model.input_size[axis]}",
            )
    expected_stride = base_model_stride(model.base)
    if s != expected_stride:
        detail = (
            f" with num_deconv_layers={model.base.num_deconv_layers}"
            if model.base.name is BaseModelName.SIMPLE_BASELINE
            else ""
        )
        raise ConfigError(
            "model.heatmap_stride",
            f"expected {expected_stride}, the stride of base model '{model.base.name.value}'{detail}, got {s}",
        )

    info = _dataset_row(cfg)  # [datasets] K from the data-set row
    if info.checks_num_keypoints and k != info.num_keypoints:
        raise ConfigError(
            "model.num_keypoints",
            f"expected {info.num_keypoints} keypoints for data.dataset='{cfg.data.dataset}', got {k}",
        )
    seen: dict[int, int] = {}
    for i, (a, b) in enumerate(cfg.data.flip_pairs):
        if a == b:
            raise ConfigError(f"data.flip_pairs[{i}]", f"expected two different keypoints, got ({a}, {b})")
        for j, idx in enumerate((a, b)):
            if idx >= k:
                raise ConfigError(
                    f"data.flip_pairs[{i}][{j}]",
                    f"expected a keypoint index in [0, {k - 1}] (model.num_keypoints={k}), got {idx}",
                )
            if idx in seen:
                raise ConfigError(
                    f"data.flip_pairs[{i}][{j}]", f"keypoint {idx} already appears in data.flip_pairs[{seen[idx]}]"
                )
            seen[idx] = i

    if cfg.loss.ohkm_topk > k:
        raise ConfigError(
            "loss.ohkm_topk", f"expected at most model.num_keypoints={k} joints, got {cfg.loss.ohkm_topk}"
        )
    steps = cfg.train.lr_steps
    for i in range(1, len(steps)):
        if steps[i] <= steps[i - 1]:
            raise ConfigError(f"train.lr_steps[{i}]", f"expected strictly increasing epochs, got {list(steps)}")


# ----------------------------------------------------------------------------------------------------------
# Files: YAML / JSON, _base_ inheritance, dotted overrides
# ----------------------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 would read it as the string '1e-3')."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

BASE_KEY = "_base_"
_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def _read_mapping(path: Path) -> dict[str, Any]:
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ConfigError("", f"expected a .yaml, .yml or .json config file, got suffix '{path.suffix}'", path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if kind == "json" else yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError("", f"malformed {kind.upper()}: {exc}", path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("<root>", f"expected a mapping at the top level, {_got(data)}", path)
    return data


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge: mappings merge key by key, everything else in ``update`` replaces."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _resolve(path: Path, stack: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in stack:
        chain = " -> ".join(str(p) for p in (*stack, path))
        raise ConfigError(BASE_KEY, f"circular _base_ chain: {chain}", path)
    data = _read_mapping(path)
    bases = data.pop(BASE_KEY, None)
    if bases is None:
        return data
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(BASE_KEY, f"expected a file name or a list of file names, {_got(bases)}", path)
    merged: dict[str, Any] = {}
    for base in bases:
        try:
            merged = _merge(merged, _resolve(path.parent / base, (*stack, path)))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"config file {path.parent / base} (the _base_ of {path}) not found"
            ) from None
    return _merge(merged, data)


def load_config_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw nested mapping of a config file with its ``_base_`` chain merged in (not yet validated)."""
    return _resolve(Path(path), ())


def _parse_override(item: str) -> tuple[list[str], Any]:
    if not isinstance(item, str) or "=" not in item:
        raise ConfigError("", f"expected an override of the form 'a.b.c=value', got {item!r}")
    key, _, text = item.partition("=")
    parts = key.strip().split(".")
    if not all(p.strip() for p in parts):
        raise ConfigError(key, f"expected a dotted field path like 'model.head.upscale', got {key!r}")
    try:
        value = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(key.strip(), f"could not parse the override value {text!r} as YAML: {exc}") from None
    return [p.strip() for p in parts], value


def _apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for item in overrides:
        parts, value = _parse_override(item)
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    ".".join(parts[: depth + 1]), f"is not a section, cannot set '{'.'.join(parts)}' under it"
                )
            node = child
        node[parts[-1]] = value
    return out


def override(cfg: Config, overrides: Sequence[str]) -> Config:
    """A new config with dotted overrides applied, e.g. ``["model.head.upscale=2", "train.lr_steps=[5, 8]"]``.

    Each value is parsed as YAML; the result is validated like a file.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    return config_from_dict(_apply_overrides(config_to_dict(cfg), overrides))


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Load, merge (``_base_``), override and validate a YAML or JSON config file.

    Raises:
        FileNotFoundError: the file or one of its bases does not exist.
        ConfigError: malformed YAML/JSON, unknown key, wrong type or impossible value (message names the
            field path and the file).
    """
    try:
        data = load_config_dict(path)
        return config_from_dict(_apply_overrides(data, overrides))
    except ConfigError as exc:
        source = f"{path} with overrides {list(overrides)}" if overrides and not exc.source else path
        raise exc.with_source(source) from None


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_config(cfg: Config, path: str | os.PathLike[str]) -> Path:
    """Write every field of ``cfg`` to a YAML or JSON file (by suffix), atomically. Returns the path."""
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"save_config: expected a .yaml, .yml or .json path, got {path}")
    data = config_to_dict(cfg)
    if kind == "json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    _atomic_write_text(path, text)
    return path


# ----------------------------------------------------------------------------------------------------------
# Shipped configs
# ----------------------------------------------------------------------------------------------------------


def _configs_dir() -> Path:
    return Path(str(resources.files("enhancenet_core") / "configs"))


def list_shipped_configs(include_partials: bool = False) -> list[str]:
    """Names (``coco_hrnet_w32_256x192_enhancenet.yaml``, ...) of the configs shipped with the package.

    Files whose name starts with ``_`` are partial bases used through ``_base_``; they are listed only with
    ``include_partials=True``.
    """
    names = sorted(p.name for p in _configs_dir().iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    return [n for n in names if include_partials or not n.startswith("_")]


def shipped_config_path(name: str) -> Path:
    """Path of a shipped config; ``name`` may omit the ``.yaml`` suffix."""
    candidates = [name] if Path(name).suffix else [f"{name}.yaml", name]
    all_names = list_shipped_configs(include_partials=True)
    for candidate in candidates:
        if candidate in all_names:
            return _configs_dir() / candidate
    close = difflib.get_close_matches(name, all_names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise FileNotFoundError(f"no shipped config named {name!r}{hint} (see list_shipped_configs())")


# ----------------------------------------------------------------------------------------------------------
# JSON Schema
# ----------------------------------------------------------------------------------------------------------

_SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"


@functools.cache
def _module_field_comments() -> dict[str, dict[str, str]]:
    """``{class name: {field: trailing comment}}`` for the dataclasses of this module (read once)."""
    try:
        source = inspect.getsource(inspect.getmodule(_module_field_comments))
    except (OSError, TypeError):  # pragma: no cover - e.g. a frozen application without sources
        return {}
    comments = {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }
    out: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = {
                item.target.id: comments[item.end_lineno or item.lineno]
                for item in node.body
                if isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and (item.end_lineno or item.lineno) in comments
            }
    return out


def _field_comments(cls: type) -> dict[str, str]:
    """Trailing ``# comment`` of each field line of ``cls`` (empty when the source is unavailable)."""
    return _module_field_comments().get(cls.__name__, {})


def _type_schema(tp: Any, path: str, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    rule = _RULES.get(path)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(a, path, defs) for a in typing.get_args(tp)]}
    if tp is type(None):
        return {"type": "null"}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type_schema(args[0], path, defs)}
        return {
            "type": "array",
            "prefixItems": [_type_schema(a, path, defs) for a in args],
            "items": False,
            "minItems": len(args),
            "maxItems": len(args),
        }
    if is_dataclass(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # placeholder against recursion
            defs[tp.__name__] = _dataclass_schema(tp, path, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    base = {bool: "boolean", int: "integer", float: "number", str: "string"}[tp]
    out: dict[str, Any] = {"type": base}
    if rule is not None and tp is not bool:
        out.update(rule.schema())
    return out


def _dataclass_schema(cls: type, path: str, defs: dict[str, Any]) -> dict[str, Any]:
    hints = _hints(cls)
    comments = _field_comments(cls)
    props: dict[str, Any] = {}
    instance = cls()
    for f in fields(cls):
        sub = f"{path}.{f.name}" if path else f.name
        prop = _type_schema(hints[f.name], sub, defs)
        if f.name in comments:
            prop["description"] = comments[f.name]
        prop["default"] = _to_plain(getattr(instance, f.name))
        props[f.name] = prop
    doc = inspect.getdoc(cls) or ""
    return {
        "type": "object",
        "description": doc.strip(),
        "properties": props,
        "additionalProperties": False,
    }


def config_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a config file, generated from the dataclasses.

    Types, enum values, defaults, per-field ranges and ``additionalProperties: false`` at every level;
    descriptions come from the field comments. The top level also allows ``_base_``. Cross-field rules (input
    size divisible by the stride and by the base model's :func:`required_input_multiple`, flip pairs within K,
    ...) are not expressible here: :func:`load_config` checks them.
    """
    defs: dict[str, Any] = {}
    root = _dataclass_schema(Config, "", defs)
    root["properties"][BASE_KEY] = {
        "description": "file(s) this config starts from, relative to it; merged recursively before this file",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    }
    return {
        "$schema": _SCHEMA_URI,
        "$id": "https://github.com/enhancenet/enhancenet/schemas/config.schema.json",
        "title": "EnhanceNet experiment config",
        **root,
        "$defs": defs,
    }
