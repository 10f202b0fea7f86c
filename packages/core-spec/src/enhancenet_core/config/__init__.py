"""Typed configuration of an EnhanceNet experiment, one module per concern.

=====================  ===================================================================================
:mod:`.schema`         the frozen dataclasses (sections, fields, defaults, one comment per field)
:mod:`.errors`         :class:`ConfigError`, the one error type of config input
:mod:`.rules`          per-field ranges and cross-field checks (:func:`validate_config`, :func:`validate_head`)
:mod:`.decode`         nested mapping <-> dataclasses (:func:`config_from_dict`, :func:`config_to_dict`)
:mod:`.files`          YAML/JSON files, ``_base_``, dotted overrides, saving, shipped configs
:mod:`.json_schema`    the JSON Schema of config files (:func:`config_json_schema`)
=====================  ===================================================================================

Architecture facts derived from the config (strides, input multiples, channel counts, deconvolution padding)
are in :mod:`enhancenet_core.architecture`; :func:`base_model_stride` and :func:`required_input_multiple` are
re-exported here.

Frozen dataclasses, validated once at the edge (:func:`load_config`, :func:`config_from_dict`), so everything
below takes typed values. Files are YAML (``.yaml``/``.yml``) or JSON (``.json``). Every bad input raises
:class:`ConfigError` (a ``ValueError``) whose message is one line, starts with the full field path
(``model.head.upscale``), says what was expected and names the file.
"""

from __future__ import annotations

from enhancenet_core.architecture import base_model_stride, required_input_multiple
from enhancenet_core.config.decode import _dataclass_from_dict, config_from_dict, config_to_dict
from enhancenet_core.config.errors import ConfigError
from enhancenet_core.config.files import (
    _atomic_write_text,
    list_shipped_configs,
    load_config,
    load_config_dict,
    override,
    save_config,
    shipped_config_path,
)
from enhancenet_core.config.json_schema import config_json_schema
from enhancenet_core.config.rules import _check_rules, validate_config, validate_head
from enhancenet_core.config.schema import (
    COCO_FLIP_PAIRS,
    MPII_FLIP_PAIRS,
    AugmentationConfig,
    BaseModelConfig,
    BottomUpConfig,
    Config,
    DataConfig,
    EnhanceNetConfig,
    LossConfig,
    ModelConfig,
    SplitFiles,
    TargetConfig,
    TestConfig,
    TrainConfig,
)

__all__ = [
    "COCO_FLIP_PAIRS",
    "MPII_FLIP_PAIRS",
    "AugmentationConfig",
    "BaseModelConfig",
    "BottomUpConfig",
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
    "load_config_dict",
    "override",
    "required_input_multiple",
    "save_config",
    "shipped_config_path",
    "validate_config",
    "validate_head",
]

# Private helpers other modules of this repository import (kept importable from the package).
_PRIVATE_REEXPORTS = (_atomic_write_text, _check_rules, _dataclass_from_dict)
