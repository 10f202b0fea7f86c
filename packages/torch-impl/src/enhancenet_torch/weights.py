"""Canonical weight I/O: safetensors files named by :mod:`enhancenet_core.namemap`, shared with enhancenet-numpy.

File format (the one ``enhancenet_numpy.weights`` writes and reads, format version 1):

- tensors: the model's ``state_dict()`` without BN ``num_batches_tracked``, i.e. the canonical names, in
  ``state_dict`` order; conv weights OIHW, ``ConvTranspose2d`` weights ``(C_in, C_out/groups, kh, kw)`` as
  PyTorch stores them, BN ``weight``, ``bias``, ``running_mean``, ``running_var`` (epsilon 1e-5);
- ``__metadata__``: ``format`` = ``enhancenet-canonical``, ``format_version`` = ``1``, ``model_config`` (the
  :class:`~enhancenet_core.config.ModelConfig` as compact JSON with sorted keys), ``shuffle_order`` (the
  channel order ``enhance.upsample`` is stored in), ``bn_eps``, ``layouts``, plus the caller's entries.

Loading checks everything before copying anything: a file of another architecture, a missing or unexpected
tensor, or a tensor of the wrong shape raises one ``ValueError`` that lists each offending tensor with the
expected and the found shape. A sub-pixel head stored in the other shuffle order is converted at load (the
output channels of ``enhance.upsample`` are permuted), so a file written in the paper's order (Eq. 5) gives
identical heat maps in a model configured with the framework order, and vice versa.

Also here: :func:`load_hrnet_checkpoint` for HRNet's official ``pose_resnet`` / ``pose_hrnet`` ``.pth`` files
(same names, base model only) and :func:`load_pretrained_backbone` for local ImageNet weights of the
ResNet / HRNet backbones. Nothing is ever downloaded. Writes are atomic (temporary file + ``os.replace``).
This module depends on enhancenet-core and safetensors only, never on enhancenet-numpy.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections import OrderedDict
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save
from torch import Tensor, nn

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder, Upsampler
from enhancenet_core.namemap import BN_EPS, HEAD_PREFIX, parameter_specs
from enhancenet_torch.models.head import EnhanceNet, paper_to_framework_index
from enhancenet_torch.models.pose_model import PoseModel, canonical_state_dict

FORMAT_NAME = "enhancenet-canonical"
FORMAT_VERSION = "1"
LAYOUTS = "conv OIHW; transposed conv (C_in, C_out/groups, kh, kw); bn weight,bias,running_mean,running_var"
RESERVED_KEYS = ("format", "format_version", "model_config", "shuffle_order", "bn_eps", "layouts", "feature_channels")

#: Backbone tensors taken from ImageNet weights, by base model (name prefixes in the model / in the file).
_BACKBONE_PREFIXES: dict[BaseModelName, tuple[str, ...]] = {
    BaseModelName.SIMPLE_BASELINE: ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."),
    BaseModelName.CPN: ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."),
    BaseModelName.HRNET: (
        "conv1.", "bn1.", "conv2.", "bn2.", "layer1.", "transition1.", "stage2.", "transition2.", "stage3.",
        "transition3.", "stage4.",
    ),
}


# ------------------------------------------------------------------------------------------ helpers
def model_config_json(model_cfg: ModelConfig) -> str:
    """The model configuration as compact JSON, sorted keys, enums as their config strings (as numpy-ref)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return json.dumps(plain(model_cfg), sort_keys=True, separators=(",", ":"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` through a temporary file in the target directory and ``os.replace``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_safetensors(path: str | os.PathLike[str]) -> tuple[OrderedDict[str, Tensor], dict[str, str]]:
    """(tensors in file order, metadata) of a safetensors file; FileNotFoundError / ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
            tensors = OrderedDict((name, f.get_tensor(name)) for name in f.keys())
    except Exception as exc:  # the library raises its own error types for a corrupt file
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
    return tensors, metadata


def _head(model: nn.Module) -> EnhanceNet | None:
    if isinstance(model, PoseModel):
        return model.enhance if model.has_head else None
    return model if isinstance(model, EnhanceNet) else None


def _shape_problems(found: dict[str, Tensor], expected: dict[str, tuple[int, ...]]) -> list[str]:
    """One line per missing, unexpected, mis-shaped or non-floating-point tensor of ``found``."""
    problems = [
        f"wrong dtype {name}: expected a floating-point tensor, found {t.dtype}"
        for name, t in found.items() if name in expected and not t.is_floating_point()
    ]
    return _name_shape_problems({k: tuple(v.shape) for k, v in found.items()}, expected) + problems


def _name_shape_problems(found: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]]) -> list[str]:
    problems = []
    for name, shape in expected.items():
        if name not in found:
            problems.append(f"missing {name}: expected shape {shape}, found nothing")
        elif found[name] != shape:
            problems.append(f"wrong shape {name}: expected {shape}, found {found[name]}")
    problems += [f"unexpected {name}: expected nothing, found shape {shape}"
                 for name, shape in found.items() if name not in expected]
    return problems


def _raise_problems(source: str, problems: list[str], preamble: str = "") -> None:
    if problems:
        head = f"{source}: {preamble}" if preamble else f"{source}: "
        raise ValueError(
            f"{head}{len(problems)} tensor(s) do not fit the model:\n  " + "\n  ".join(problems)
        )


def _expected_shapes(model: nn.Module, model_cfg: ModelConfig | None) -> dict[str, tuple[int, ...]]:
    """Canonical name -> shape of ``model``; checked against the name map when ``model_cfg`` is given."""
    own = {k: tuple(v.shape) for k, v in canonical_state_dict(model).items()}
    if model_cfg is not None and isinstance(model, PoseModel):
        try:
            specs = parameter_specs(model_cfg)
        except ValueError:  # a base model the name map does not cover (CPN): check the head alone
            specs = (
                parameter_specs(model_cfg, feature_channels=model.base.feature_channels)
                if model_cfg.head.enabled else {}
            )
            own_part = {k: v for k, v in own.items() if k.startswith(HEAD_PREFIX)}
        else:
            own_part = own
        want = {k: s.shape for k, s in specs.items()}
        problems = _name_shape_problems(own_part, want)
        if problems:
            raise ValueError(
                "the model does not match its config's canonical name map (build it with build_model(model_cfg)):"
                "\n  " + "\n  ".join(problems)
            )
    return own


# ------------------------------------------------------------------------------------------ save / load
def save_canonical(
    model: nn.Module,
    path: str | os.PathLike[str],
    model_cfg: ModelConfig,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write the model's canonical tensors and the metadata header to ``path`` (atomically).

    Args:
        model: a :class:`PoseModel` built from ``model_cfg`` (or a base model / head with canonical names).
        path: the ``.safetensors`` file; its directory must exist.
        model_cfg: the model's configuration, recorded as JSON in the header.
        metadata: extra string entries for the header (may not use the reserved keys).
    """
    if not isinstance(model, PoseModel):
        raise TypeError(f"save_canonical: expected a PoseModel (build_model(model_cfg)), got {type(model).__name__}")
    _expected_shapes(model, model_cfg)  # the model must be the config's model
    head = _head(model)
    order = head.shuffle_order if head is not None else ShuffleOrder(model_cfg.head.shuffle_order)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": model_config_json(model_cfg),
        "shuffle_order": order.value,
        "bn_eps": repr(BN_EPS),
        "layouts": LAYOUTS,
    }
    for key, value in (metadata or {}).items():
        if key in header or key in RESERVED_KEYS:
            raise ValueError(f"metadata key {key!r} is reserved by the canonical format")
        if not isinstance(value, str):
            raise ValueError(f"metadata {key!r}: values must be strings, got {type(value).__name__}")
        header[key] = value
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in canonical_state_dict(model).items()}
    atomic_write_bytes(path, safetensors_save(tensors, metadata=header))


def _convert_shuffle(
    tensors: dict[str, Tensor], stored: str | None, head: EnhanceNet | None, source: str
) -> dict[str, Tensor]:
    """Permute ``enhance.upsample`` from the file's shuffle order into the head's (sub-pixel heads only)."""
    if head is None or head.upsampler is not Upsampler.SUBPIXEL or stored is None:
        return tensors
    try:
        stored_order = ShuffleOrder(stored)
    except ValueError as exc:
        raise ValueError(f"{source}: metadata shuffle_order {stored!r} is not one of "
                         f"{[o.value for o in ShuffleOrder]}") from exc
    if stored_order is head.shuffle_order:
        return tensors
    idx = paper_to_framework_index(head.num_keypoints, head.upscale)  # framework = paper[idx]
    if stored_order is ShuffleOrder.FRAMEWORK:  # file framework -> model paper: paper = framework[argsort(idx)]
        idx = torch.argsort(idx)
    out = dict(tensors)
    for suffix in ("weight", "bias"):
        name = f"{HEAD_PREFIX}upsample.{suffix}"
        t = out.get(name)
        if t is not None and t.ndim >= 1 and t.shape[0] == idx.numel():
            out[name] = t.index_select(0, idx)
    return out


def load_canonical(
    model: nn.Module, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None
) -> dict[str, str]:
    """Load a canonical safetensors file into ``model`` after checking every tensor; returns the metadata.

    Raises FileNotFoundError when the file is missing, and ValueError (nothing loaded) when the file is not a
    canonical file of a supported version, was written for another architecture, or any tensor is missing,
    unexpected or mis-shaped (each listed with the expected and the found shape). ``model_cfg`` (optional)
    additionally checks that ``model`` is the model the config describes.
    """
    source = os.fspath(path)
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{source}: metadata 'format' is {metadata.get('format')!r}, expected {FORMAT_NAME!r}")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{source}: format_version {metadata.get('format_version')!r} is not supported "
                         f"(expected {FORMAT_VERSION!r})")
    expected = _expected_shapes(model, model_cfg)
    head = _head(model)
    tensors = _convert_shuffle(tensors, metadata.get("shuffle_order"), head, source)
    preamble = ""
    if model_cfg is not None and "model_config" in metadata:
        try:
            stored_cfg = json.loads(metadata["model_config"])
            stored_base = stored_cfg["base"]["name"]
        except (ValueError, KeyError, TypeError):
            stored_base = None
        want_base = BaseModelName(model_cfg.base.name).value
        if stored_base is not None and stored_base != want_base:
            preamble = f"the file holds a {stored_base!r} model, the config builds {want_base!r}; "
    problems = _shape_problems(tensors, expected)
    if preamble and not problems:
        raise ValueError(f"{source}: {preamble.rstrip('; ')}")
    _raise_problems(source, problems, preamble)
    model.load_state_dict(tensors, strict=True)
    return metadata


# ------------------------------------------------------------------------------- third-party checkpoints
def read_state_dict(path: str | os.PathLike[str]) -> OrderedDict[str, Tensor]:
    """Tensors of a ``.safetensors`` file or a PyTorch ``.pth`` / ``.pt`` state dict (``weights_only``).

    A dict holding ``state_dict`` / ``model`` is unwrapped; a ``module.`` prefix (DataParallel) is removed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    if path.suffix == ".safetensors":
        return read_safetensors(path)[0]
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable PyTorch state dict ({exc})") from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a state dict), got {type(obj).__name__}")
    out: OrderedDict[str, Tensor] = OrderedDict()
    for k, v in obj.items():
        out[k[len("module."):] if k.startswith("module.") else k] = v
    return out


def _base_module(model: nn.Module) -> nn.Module:
    return model.base if isinstance(model, PoseModel) else model


def load_hrnet_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load an official HRNet code-base checkpoint (``pose_resnet_*.pth`` / ``pose_hrnet_*.pth``) into the base
    model of ``model`` (the EnhanceNet head keeps its initialisation).

    The names are the canonical ones; ``num_batches_tracked`` is ignored. Every base-model tensor must be
    present with the right shape and no other tensor may be in the file, else ValueError lists each one
    (expected and found shape) and nothing is loaded.
    """
    source = os.fspath(path)
    found = OrderedDict((k, v) for k, v in read_state_dict(path).items() if not k.endswith("num_batches_tracked"))
    base = _base_module(model)
    expected = {k: tuple(v.shape) for k, v in canonical_state_dict(base).items()}
    _raise_problems(source, _shape_problems(found, expected))
    base.load_state_dict(found, strict=False)  # num_batches_tracked is not in the file; everything else is


def load_pretrained_backbone(model: nn.Module, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
    """Initialise the backbone of ``model`` from local ImageNet weights (never downloaded).

    ResNet (SimpleBaseline, CPN): torchvision / HRNet names ``conv1``, ``bn1``, ``layer1..4`` (``fc`` ignored).
    HRNet: the ImageNet HRNet names of the stem, ``layer1``, ``transition1..3`` and ``stage2..4`` (the
    classification-only layers are ignored), as HRNet's ``PRETRAINED_LAYERS``. Every backbone tensor of the
    model must be in the file with the right shape, else ValueError lists them and nothing is loaded.
    """
    name = BaseModelName(model_cfg.base.name)
    if name not in _BACKBONE_PREFIXES:
        raise ValueError(f"model.base.pretrained: ImageNet weights are supported for ResNet and HRNet backbones, "
                         f"not for {name.value!r}")
    source = os.fspath(path)
    found = read_state_dict(path)
    base = _base_module(model)
    target = base.resnet if name is BaseModelName.CPN else base
    prefixes = _BACKBONE_PREFIXES[name]
    expected = {
        k: tuple(v.shape) for k, v in canonical_state_dict(target).items() if k.startswith(prefixes)
    }
    chosen = OrderedDict((k, v) for k, v in found.items() if k in expected)
    _raise_problems(f"{source} (ImageNet {name.value} backbone)", _shape_problems(chosen, expected))
    target.load_state_dict(chosen, strict=False)


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "load_canonical",
    "load_hrnet_checkpoint",
    "load_pretrained_backbone",
    "model_config_json",
    "read_safetensors",
    "read_state_dict",
    "save_canonical",
]
