"""Value rules of the config: per-field ranges (also exported to the JSON Schema) and cross-field checks.

:func:`validate_config` checks a whole typed :class:`~enhancenet_core.config.schema.Config`;
:func:`validate_head` checks an EnhanceNet head configuration alone and is what every head implementation
(NumPy reference name map, PyTorch, Paddle, MindSpore) calls, so the head's domain is written once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from typing import Any

from enhancenet_core.architecture import (
    INPUT_MULTIPLE_REASON,
    base_model_stride,
    deconv_padding,
    required_input_multiple,
)
from enhancenet_core.config.errors import ConfigError
from enhancenet_core.config.schema import Config, EnhanceNetConfig
from enhancenet_core.conventions import BaseModelName, Upsampler
from enhancenet_core.datasets import DATASET_FILE_SUFFIXES, DatasetName, dataset_info

__all__ = [
    "HRNET_WIDTHS",
    "OPTIMIZERS",
    "RESNET_DEPTHS",
    "SEED_MAX",
    "SIMPLE_BASELINE_DECONV_KERNELS",
    "validate_config",
    "validate_head",
]


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
#: Largest ``train.seed``: NumPy's ``np.random.seed`` takes 0 .. 2**32 - 1; ``torch.manual_seed``,
#: ``paddle.seed`` and ``mindspore.set_seed`` take at least that range, so every framework accepts it.
SEED_MAX = 2**32 - 1

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
    "model.base.hourglass_increase": _Rule(minimum=0),
    "model.base.ae_output_channels": _Rule(minimum=2),
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
    "train.seed": _Rule(minimum=0, maximum=SEED_MAX),
    "train.workers": _Rule(minimum=0),
    "test.image_thre": _PROB,
    "test.in_vis_thre": _PROB,
    "test.oks_thre": _PROB,
    "test.batch_size": _Rule(minimum=1),
    "bottomup.detection_threshold": _Rule(minimum=0.0),
    "bottomup.tag_threshold": _Rule(exclusive_minimum=0.0),
    "bottomup.max_num_people": _Rule(minimum=1),
    "bottomup.top_k": _Rule(minimum=1),
    "bottomup.nms_kernel": _Rule(minimum=1, odd=True),
    "bottomup.clip_detections_at": _Rule(exclusive_minimum=0.0),
    "bottomup.scales": _Rule(exclusive_minimum=0.0),
    "bottomup.size_multiple": _Rule(minimum=1),
    "bottomup.rotation": _Rule(minimum=0.0, maximum=180.0),
    "bottomup.scale_range": _Rule(exclusive_minimum=0.0),
    "bottomup.translate": _Rule(minimum=0.0),
}
_HEAD_PATH = "model.head"


def _check_rules(value: Any, path: str) -> None:
    if is_dataclass(value):
        for f in fields(value):
            _check_rules(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
        return
    rule = _RULES.get(path)
    if rule is None or value is None:  # an optional field left null has no range to check
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


def rule_for(path: str) -> _Rule | None:
    """The range rule of a dotted field path (``train.seed``), or None (used by the JSON Schema)."""
    return _RULES.get(path)


def _check_upsampler(head: EnhanceNetConfig) -> None:
    """The L-th layer's kernel must keep (conv) or exactly multiply (deconv) the map size."""
    try:
        upsampler = Upsampler(head.upsampler)
    except ValueError:
        raise ConfigError(
            f"{_HEAD_PATH}.upsampler", f"expected one of {[m.value for m in Upsampler]}, got {head.upsampler!r}"
        ) from None
    if upsampler is Upsampler.DECONV:
        try:
            deconv_padding(head.upsampler_kernel, head.upscale)
        except ValueError as exc:
            raise ConfigError(f"{_HEAD_PATH}.upsampler_kernel", str(exc)) from None
    elif head.upsampler_kernel % 2 == 0:
        raise ConfigError(
            f"{_HEAD_PATH}.upsampler_kernel",
            f"expected an odd kernel for the '{upsampler.value}' upsampler (its conv keeps the map size "
            f"with 'same' padding), got {head.upsampler_kernel}",
        )


def validate_head(head: EnhanceNetConfig) -> None:
    """Check an EnhanceNet head configuration alone (the ``model.head`` rules); raise :class:`ConfigError`.

    The domain is the paper's (Sec. 3.1): ``L >= 2`` layers, i.e. at least one regular convolution ``w_1``
    (the 1x1 channel reduction, Eq. 2) before the upscaling layer ``f^L`` (Eq. 4), ``C, r >= 1``, odd
    regular-conv kernels, and an upsampler kernel that keeps (conv) or exactly multiplies (deconv) the map
    size. Every head implementation calls this before building its layers.
    """
    if not isinstance(head, EnhanceNetConfig):
        raise TypeError(f"validate_head: expected an EnhanceNetConfig, got {type(head).__name__}")
    _check_rules(head, _HEAD_PATH)
    _check_upsampler(head)


def _dataset_row(cfg: Config) -> Any:  # [datasets]
    """The data-set row of ``data.dataset`` (a data-set file is parsed once: ``dataset_info`` caches it)."""
    try:
        return dataset_info(cfg.data.dataset)
    except (ValueError, FileNotFoundError) as exc:
        raise ConfigError("data.dataset", str(exc).removeprefix("data.dataset: ")) from None


def _check_bottomup(cfg: Config) -> None:
    """Cross-field rules of the ``bottomup`` section."""
    bu = cfg.bottomup
    if not bu.scales:
        raise ConfigError("bottomup.scales", "expected at least one test scale, got []")
    if not any(abs(s - 1.0) < 0.5 for s in bu.scales):  # pose-ae-train reads tags only at scales near 1
        raise ConfigError(
            "bottomup.scales", f"expected a scale within (0.5, 1.5), where the tags are read, got {list(bu.scales)}"
        )
    lo, hi = bu.scale_range
    if lo > hi:
        raise ConfigError("bottomup.scale_range", f"expected (low, high) with low <= high, got {[lo, hi]}")


def _check_dlcm(cfg: Config, info: Any) -> None:
    """DLCM's hierarchy is MPII's 16 joints in MPII order (``enhancenet_core.compositional.MPII_HIERARCHY``, whose
    joint names are the MPII row's: tested), its level-1 partners MPII's flip pairs; its loss has no OHKM."""
    mpii = dataset_info(DatasetName.MPII)
    if tuple(info.keypoint_names) != tuple(mpii.keypoint_names):
        raise ConfigError(
            "data.dataset",
            f"base model 'dlcm' composes MPII's 16 joints in MPII order; data.dataset='{cfg.data.dataset}' has "
            f"keypoints {list(info.keypoint_names)}",
        )
    if cfg.model.num_keypoints != mpii.num_keypoints:
        raise ConfigError(
            "model.num_keypoints", f"expected {mpii.num_keypoints} for base model 'dlcm', got {cfg.model.num_keypoints}"
        )
    pairs = {tuple(sorted(p)) for p in cfg.data.flip_pairs}
    if pairs != {tuple(sorted(p)) for p in mpii.flip_pairs}:
        raise ConfigError(
            "data.flip_pairs",
            f"base model 'dlcm' swaps MPII's partners at every level; expected {[list(p) for p in mpii.flip_pairs]}, "
            f"got {[list(p) for p in cfg.data.flip_pairs]}",
        )
    if cfg.loss.ohkm:
        raise ConfigError("loss.ohkm", "expected false for base model 'dlcm' (its loss has no OHKM)")
    # the top-down skip outputs width - P_l channels (even, >= 2); the joints are the largest level and every
    # level's part count is even (16, 12, 6: MPII_HIERARCHY, tested), so this is the whole condition
    ch, k = cfg.model.base.hourglass_channels, mpii.num_keypoints
    if ch % 2 or ch < k + 2:
        raise ConfigError(
            "model.base.hourglass_channels",
            f"expected an even width >= {k + 2} for base model 'dlcm' (its top-down stacks concatenate the 16 "
            f"joint maps with width - 16 feature channels), got {ch}",
        )


def validate_config(cfg: Config) -> None:
    """Check value ranges and cross-field consistency of an already typed config; raise :class:`ConfigError`."""
    if cfg.data.flip_pairs is None:  # [datasets] data.dataset's row could not be read: say why first
        _dataset_row(cfg)
    _check_rules(cfg, "")
    model, head = cfg.model, cfg.model.head
    k = model.num_keypoints

    _check_upsampler(head)

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
                f"'{model.base.name.value}' ({INPUT_MULTIPLE_REASON[model.base.name]}), "
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

    if model.base.name is BaseModelName.AE_HOURGLASS and model.base.ae_output_channels < 2 * k:
        raise ConfigError(
            "model.base.ae_output_channels",
            f"expected at least 2 * model.num_keypoints = {2 * k} (K detection + K tag maps per stack), "
            f"got {model.base.ae_output_channels}",
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

    if model.base.name is BaseModelName.DLCM:
        _check_dlcm(cfg, info)
    if model.base.name in (BaseModelName.DLCM, BaseModelName.AE_HOURGLASS) and cfg.loss.hr_reduction != "mean":
        # their losses (the spec's dlcm_loss / ae_total_loss) weigh L^HR by eta alone, as the top-down mean does
        raise ConfigError(
            "loss.hr_reduction",
            f"expected 'mean' for base model '{model.base.name.value}' (the Eq. 7 sum is implemented for the "
            f"top-down heat-map loss only), got '{getattr(cfg.loss.hr_reduction, 'value', cfg.loss.hr_reduction)}'",
        )
    if cfg.loss.ohkm_topk > k:
        raise ConfigError(
            "loss.ohkm_topk", f"expected at most model.num_keypoints={k} joints, got {cfg.loss.ohkm_topk}"
        )
    _check_bottomup(cfg)
    steps = cfg.train.lr_steps
    for i in range(1, len(steps)):
        if steps[i] <= steps[i - 1]:
            raise ConfigError(f"train.lr_steps[{i}]", f"expected strictly increasing epochs, got {list(steps)}")

