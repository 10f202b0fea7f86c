"""The ``bottomup`` config section: pose-ae-train's defaults, decoding into GroupingParams, rules, schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from enhancenet_core.bottomup import GroupingParams, RefineMode, TagReading
from enhancenet_core.config import (
    BottomUpConfig,
    ConfigError,
    config_from_dict,
    config_json_schema,
    config_to_dict,
)


def test_defaults_are_pose_ae_train_test_settings() -> None:
    bu = config_from_dict({}).bottomup
    assert bu == BottomUpConfig()
    # test.py: HeatmapParser(detection_val=0.1), tag 1, 30 people, MaxPool2d(3), single scale with flip
    assert (bu.detection_threshold, bu.tag_threshold, bu.max_num_people, bu.nms_kernel) == (0.1, 1.0, 30, 3)
    assert bu.flip_test and bu.scales == (1.0,) and bu.size_multiple == 64
    # dp.py: rotation ±30°, scale 0.75..1.25, shift ±40·scale px, flip
    assert (bu.rotation, bu.scale_range, bu.translate, bu.flip) == (30.0, (0.75, 1.25), 40.0, True)
    # the section's parser settings are the spec's defaults
    assert bu.grouping_params() == GroupingParams()


def test_decoded_into_grouping_params() -> None:
    cfg = config_from_dict(
        {"bottomup": {"tag_reading": "bilinear", "refine": "peer", "detection_threshold": 0.2, "scales": [2, 1, 0.5],
                      "clip_detections_at": None, "max_num_people": 5, "top_k": 7}}
    )
    p = cfg.bottomup.grouping_params()
    assert p.tag_reading is TagReading.BILINEAR and p.refine is RefineMode.PEER
    assert (p.detection_threshold, p.max_num_people, p.top_k, p.clip_detections_at) == (0.2, 5, 7, None)
    assert cfg.bottomup.scales == (2.0, 1.0, 0.5)
    assert config_from_dict(config_to_dict(cfg)) == cfg


BAD = [
    ({"nms_kernel": 2}, "bottomup.nms_kernel", "odd"),
    ({"max_num_people": 0}, "bottomup.max_num_people", ">= 1"),
    ({"tag_threshold": 0}, "bottomup.tag_threshold", "> 0"),
    ({"detection_threshold": -0.1}, "bottomup.detection_threshold", ">= 0"),
    ({"scales": []}, "bottomup.scales", "at least one"),
    ({"scales": [2.0, 0.4]}, "bottomup.scales", "(0.5, 1.5)"),
    ({"scales": [1.0, 0.0]}, "bottomup.scales[1]", "> 0"),
    ({"scale_range": [1.3, 1.0]}, "bottomup.scale_range", "low <= high"),
    ({"tag_reading": "cubic"}, "bottomup.tag_reading", "'nearest', 'bilinear'"),
    ({"refine": True}, "bottomup.refine", "'corrected', 'peer', 'off'"),
    ({"clip_detections_at": 0}, "bottomup.clip_detections_at", "> 0"),
    ({"flip_tst": True}, "bottomup.flip_tst", "did you mean 'flip_test'"),
]


@pytest.mark.parametrize(("section", "path", "words"), BAD)
def test_bad_values_give_one_line_errors(section: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"bottomup": section})
    msg = str(info.value)
    assert msg.startswith(path) and words in msg and "\n" not in msg


def test_json_schema_describes_the_section() -> None:
    schema = config_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    props = schema["$defs"]["BottomUpConfig"]["properties"]
    assert props["tag_reading"]["enum"] == ["nearest", "bilinear"]
    assert props["max_num_people"]["default"] == 30 and props["max_num_people"]["minimum"] == 1
    assert "NMS" in props["nms_kernel"]["description"]
    validator.validate(config_to_dict(config_from_dict({})))
    for section, _, _ in BAD[:4] + BAD[8:]:
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({"bottomup": section})
