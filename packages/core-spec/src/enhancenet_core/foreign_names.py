"""Checkpoints of other code bases: their tensor names -> the canonical ones, as data and pure functions.

Everything here works on ``{name: array}`` dicts (NumPy arrays or framework tensors: only ``.shape`` is read),
so every framework's loader and the converter share one mapping. Reading a file is the caller's business: a
``.safetensors`` file through :func:`enhancenet_core.safetensors_io.read_safetensors`, a pickle ``.pth`` only
through a framework's explicit trusted-file opt-in (never here).

======================  =======================================  =============================================
Layout (:data:`LAYOUTS`)  Names in the file                        Mapped to canonical
======================  =======================================  =============================================
``canonical``           HRNet repository ``pose_resnet`` /       unchanged: canonical names *are* these
                        ``pose_hrnet``, bearpaw ``hourglass``,   (:mod:`enhancenet_core.namemap`)
                        our own base model
``mmpose``              mmpose 1.x ``TopdownPoseEstimator``:     ``backbone.X`` -> ``X``;
                        ``backbone.*`` (ResNet, HRNet),          ``head.deconv_layers.X`` -> ``deconv_layers.X``;
                        ``head.*`` (``HeatmapHead``)             ``head.final_layer.X`` -> ``final_layer.X``
``mmpose0``             mmpose 0.x ``TopDown``: ``backbone.*``,  as ``mmpose`` with ``keypoint_head.``
                        ``keypoint_head.*``                      for ``head.``
``pose_ae_train``       pose-ae-train ``train.py`` checkpoints   ``model.module.X`` -> ``X`` (canonical AE names
                        (``state_dict`` of ``Trainer(Data-       are ``PoseNet``'s own keys); a bare ``PoseNet``
                        Parallel(PoseNet))``): ``model.module.*`` or ``DataParallel`` state dict is canonical
======================  =======================================  =============================================

Before a layout is chosen, a ``module.`` prefix on every name (``DataParallel`` / DDP, as bearpaw's and the
HRNet repository's training checkpoints hold) is removed, and ``*.num_batches_tracked`` (a BN step counter, not
a weight) is dropped. Nothing else is ever dropped or guessed: a tensor that maps to no canonical name of the
model, a canonical tensor the file lacks, or a shape that differs refuses the whole file
(:class:`ForeignCheckpointError`, one line naming the *first* such tensor by its name in the file, plus a hint
for the known unbridgeable variants in :data:`KNOWN_VARIANTS`, e.g. mmpose's ResNet v1d deep stem).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.namemap import base_parameter_specs

__all__ = [
    "DROPPED_SUFFIXES",
    "KNOWN_VARIANTS",
    "LAYOUTS",
    "WRAPPER_PREFIXES",
    "ForeignCheckpointError",
    "ForeignMapping",
    "Layout",
    "base_shapes",
    "detect_layout",
    "first_mismatch",
    "from_canonical",
    "from_canonical_name",
    "map_to_canonical",
    "pretrained_tensors",
    "require_base_only",
    "strip_wrapper",
    "to_canonical",
    "to_canonical_name",
]


class ForeignCheckpointError(ValueError):
    """A checkpoint of another code base that the name map cannot bridge to the configured model (one line)."""


@dataclass(frozen=True)
class Layout:
    """One foreign naming scheme: ordered ``(foreign prefix, canonical prefix)`` renames (first match wins).

    ``strict``: a name matching no rename has no canonical counterpart (else it is kept as it is).
    ``models``: the base models whose checkpoints use this layout.
    """

    key: str
    title: str
    renames: tuple[tuple[str, str], ...]
    strict: bool
    models: tuple[BaseModelName, ...]


_SB, _HR, _HG = BaseModelName.SIMPLE_BASELINE, BaseModelName.HRNET, BaseModelName.HOURGLASS
_AE = BaseModelName.AE_HOURGLASS

LAYOUTS: dict[str, Layout] = {
    "canonical": Layout("canonical", "HRNet-repository / bearpaw pytorch-pose / canonical", (), False,
                        (_SB, _HR, _HG, _AE)),
    "mmpose": Layout("mmpose", "mmpose 1.x TopdownPoseEstimator",
                     (("backbone.", ""), ("head.deconv_layers.", "deconv_layers."),
                      ("head.final_layer.", "final_layer.")), True, (_SB, _HR)),
    "mmpose0": Layout("mmpose0", "mmpose 0.x TopDown",
                      (("backbone.", ""), ("keypoint_head.deconv_layers.", "deconv_layers."),
                       ("keypoint_head.final_layer.", "final_layer.")), True, (_SB, _HR)),
    "pose_ae_train": Layout("pose_ae_train", "pose-ae-train (Associative Embedding) training",
                            (("model.module.", ""),), True, (_AE,)),
}
"""Every layout the loaders accept, by key (the README's checkpoint table lists the same)."""

WRAPPER_PREFIXES: tuple[str, ...] = ("module.",)
"""Prefixes a training wrapper puts on every name (``torch.nn.DataParallel``, ``DistributedDataParallel``)."""

DROPPED_SUFFIXES: tuple[str, ...] = (".num_batches_tracked",)
"""Tensors that are no weights and are dropped silently (BN's step counter)."""

KNOWN_VARIANTS: tuple[tuple[str, str], ...] = (
    ("backbone.stem.", "mmpose ResNetV1d's deep stem (three 3x3 ConvModules) replaces conv1/bn1"),
    (".downsample.2.", "mmpose ResNetV1d's avg_down shortcut (AvgPool, conv, BN)"),
    ("head.conv_layers.", "HeatmapHead's extra conv_layers between the deconvolutions and final_layer"),
    ("keypoint_head.final_layer.1.", "extra conv layers in mmpose 0.x's final_layer"),
    (".gn", "GroupNorm instead of BatchNorm"),
)
"""(substring of a foreign name, what it is): variants our models do not have, named in the refusal."""


def strip_wrapper(names: Iterable[str]) -> str:
    """The wrapper prefix of :data:`WRAPPER_PREFIXES` that *every* name carries, else ``""``."""
    names = list(names)
    for prefix in WRAPPER_PREFIXES:
        if names and all(n.startswith(prefix) for n in names):
            return prefix
    return ""


def detect_layout(names: Iterable[str]) -> str:
    """The :data:`LAYOUTS` key of a checkpoint from its names (after :func:`strip_wrapper`).

    ``backbone.`` names make it mmpose's (0.x when a ``keypoint_head.`` name is there), ``model.module.`` names
    pose-ae-train's, anything else canonical.
    """
    names = list(names)
    prefix = strip_wrapper(names)
    names = [n[len(prefix):] for n in names]
    if any(n.startswith("backbone.") for n in names):
        return "mmpose0" if any(n.startswith("keypoint_head.") for n in names) else "mmpose"
    if any(n.startswith("model.module.") for n in names):
        return "pose_ae_train"
    return "canonical"


def to_canonical_name(name: str, layout: str) -> str | None:
    """The canonical name of a foreign ``name`` (wrapper already removed), ``None`` when it has none."""
    spec = LAYOUTS[layout]
    for foreign, ours in spec.renames:
        if name.startswith(foreign):
            return ours + name[len(foreign):]
    return None if spec.strict else name


def from_canonical_name(name: str, layout: str) -> str:
    """The name a canonical base-model tensor has in ``layout`` (inverse of :func:`to_canonical_name`)."""
    for foreign, ours in LAYOUTS[layout].renames:
        if ours and name.startswith(ours):
            return foreign + name[len(ours):]
    catch_all = [foreign for foreign, ours in LAYOUTS[layout].renames if not ours]
    return (catch_all[0] if catch_all else "") + name


@dataclass(frozen=True)
class ForeignMapping:
    """The result of :func:`map_to_canonical`.

    ``tensors``: canonical name -> tensor (file order); ``foreign``: canonical name -> its name in the file;
    ``unmapped``: name -> tensor of the file's tensors with no canonical counterpart; ``dropped``: names dropped on purpose;
    ``order``: the file's names that were not dropped, in file order.
    """

    layout: str
    wrapper: str
    tensors: dict[str, Any]
    foreign: dict[str, str]
    unmapped: dict[str, Any]
    dropped: tuple[str, ...]
    order: tuple[str, ...]


def map_to_canonical(tensors: Mapping[str, Any], layout: str | None = None) -> ForeignMapping:
    """Rename a foreign state dict to canonical names (nothing checked against a model yet).

    ``layout``: a :data:`LAYOUTS` key, or ``None`` to :func:`detect_layout`. Two names mapping onto one
    canonical name are refused (:class:`ForeignCheckpointError`).
    """
    wrapper = strip_wrapper(tensors)
    if layout is None:
        layout = detect_layout(tensors)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown checkpoint layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    out: dict[str, Any] = {}
    foreign: dict[str, str] = {}
    unmapped: dict[str, Any] = {}
    dropped: list[str] = []
    order: list[str] = []
    for full, value in tensors.items():
        name = full[len(wrapper):]
        if name.endswith(DROPPED_SUFFIXES):
            dropped.append(full)
            continue
        order.append(full)
        ours = to_canonical_name(name, layout)
        if ours is None:
            unmapped[full] = value
        elif ours in out:
            raise ForeignCheckpointError(f"{full} and {foreign[ours]} both map to {ours}")
        else:
            out[ours] = value
            foreign[ours] = full
    return ForeignMapping(layout, wrapper, out, foreign, unmapped, tuple(dropped), tuple(order))


def from_canonical(tensors: Mapping[str, Any], layout: str, wrapper: str = "") -> dict[str, Any]:
    """Canonical base-model tensors renamed into ``layout`` (with ``wrapper`` in front): the inverse map."""
    return {wrapper + from_canonical_name(k, layout): v for k, v in tensors.items()}


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def _hint(name: str) -> str:
    for needle, what in KNOWN_VARIANTS:
        if needle in name:
            return f" ({what})"
    return ""


def first_mismatch(
    mapping: ForeignMapping, expected: Mapping[str, Iterable[int]], ignore: Iterable[str] = ()
) -> tuple[str, int] | None:
    """(``"NAME ...: why"`` for the first tensor that does not fit, number of tensors that do not), or ``None``.

    Order: the file's tensors in file order (no counterpart, or another shape), then the canonical tensors
    the file lacks, in model order. Names are the file's own (a missing one as it would be named there).
    ``ignore``: canonical names that may be in the file but are not wanted (e.g. the head of a file used for
    the backbone alone); they are neither checked nor counted.
    """
    want = {k: tuple(int(d) for d in v) for k, v in expected.items()}
    skip = set(ignore) - set(want)
    problems: list[str] = []
    back = {v: k for k, v in mapping.foreign.items()}
    for full in mapping.order:
        ours = back.get(full)
        if ours in skip:
            continue
        if ours is None or ours not in want:
            value = mapping.unmapped[full] if ours is None else mapping.tensors[ours]
            problems.append(f"{full} {_shape(value)} has no counterpart in our model{_hint(full)}")
        elif _shape(mapping.tensors[ours]) != want[ours]:
            problems.append(f"{full}: expected shape {want[ours]} (our {ours}), found {_shape(mapping.tensors[ours])}")
    for ours, shape in want.items():
        if ours not in mapping.tensors:
            name = mapping.wrapper + from_canonical_name(ours, mapping.layout)
            problems.append(f"{name} missing: our {ours} {shape} has no tensor in the file")
    return (problems[0], len(problems)) if problems else None


def base_shapes(model_cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Canonical name -> shape of the configured *base* model (what a foreign checkpoint provides)."""
    return {k: s.shape for k, s in base_parameter_specs(model_cfg.base, model_cfg.num_keypoints).items()}


def _model_text(model_cfg: ModelConfig) -> str:
    base = model_cfg.base
    detail = {_SB: f"ResNet-{base.depth}", _HR: f"W{base.width}", _HG: f"{base.stages} stacks",
              _AE: f"{base.stages} stacks, {base.hourglass_channels} channels"}.get(base.name, "")
    return f"{base.name.value} {detail}, K={model_cfg.num_keypoints}".replace("  ", " ")


def to_canonical(
    tensors: Mapping[str, Any],
    model_cfg: ModelConfig,
    source: str,
    expected: Mapping[str, Iterable[int]] | None = None,
    layout: str | None = None,
    ignore: Iterable[str] = (),
) -> dict[str, Any]:
    """The canonical base-model tensors of a foreign checkpoint, checked: every name maps, none is missing,
    every shape fits ``expected`` (default :func:`base_shapes` of ``model_cfg``); ``ignore``: see
    :func:`first_mismatch`.

    Raises:
        ForeignCheckpointError: one line: ``source``, the layout, the model, the first tensor that does not
            fit (its name in the file), and how many do not.
    """
    mapping = map_to_canonical(tensors, layout)
    spec = LAYOUTS[mapping.layout]
    if expected is None:
        expected = base_shapes(model_cfg)
    found = first_mismatch(mapping, expected, ignore)
    if found is not None:
        first, count = found
        models = ", ".join(m.value for m in spec.models)
        extra = "" if model_cfg.base.name in spec.models else f" (this layout holds {models} models)"
        raise ForeignCheckpointError(
            f"{source}: refused: this {spec.title} checkpoint does not fit {_model_text(model_cfg)}{extra}: "
            f"first mismatching tensor {first}; {count} tensor(s) do not fit, nothing loaded")
    return {k: mapping.tensors[k] for k in expected}


def pretrained_tensors(
    tensors: Mapping[str, Any],
    expected: Mapping[str, Iterable[int]],
    model_cfg: ModelConfig,
    source: str,
) -> dict[str, Any]:
    """The tensors of a ``model.base.pretrained`` file that initialise the names in ``expected`` (the backbone,
    or the whole base model, by ``pretrained_scope``).

    A canonical-layout file (ImageNet ResNet / HRNet weights, an HRNet-repository or our own file) gives the
    tensors it has under those names and the caller checks them as before (its other tensors, e.g. a
    classifier's ``fc``, are ignored). A foreign layout (mmpose) is checked strictly by :func:`to_canonical`:
    only the base model's tensors outside ``expected`` may be left out of the load.
    """
    mapping = map_to_canonical(tensors)
    if mapping.layout == "canonical":
        return {k: v for k, v in mapping.tensors.items() if k in expected}
    try:
        ignore: Iterable[str] = base_shapes(model_cfg)
    except ValueError:  # a base model the name map does not cover (CPN): nothing else may be in the file
        ignore = ()
    return to_canonical(tensors, model_cfg, source, expected=expected, ignore=ignore)


def require_base_only(model_cfg: ModelConfig, source: str, layout: str = "canonical") -> None:
    """Refuse (one line) to make a whole-model file from a foreign checkpoint when the config has the EnhanceNet
    head: no foreign file holds one, and a head left at its initialisation must not pass for trained weights."""
    if model_cfg.head.enabled:
        raise ForeignCheckpointError(
            f"{source}: this {LAYOUTS[layout].title} checkpoint holds the base model only, but the config has the "
            "EnhanceNet head (model.head.enabled): convert it with the base config (e.g. "
            "coco_simplebaseline_r50_256x192_base) and start EnhanceNet from the result with "
            "model.base.pretrained: FILE and model.base.pretrained_scope: base")
