"""Config loading, strict validation, _base_ merging, overrides, round trips, JSON Schema, shipped configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from enhancenet_core.config import (
    COCO_FLIP_PAIRS,
    MPII_FLIP_PAIRS,
    BaseModelConfig,
    Config,
    ConfigError,
    config_from_dict,
    config_json_schema,
    config_to_dict,
    list_shipped_configs,
    load_config,
    load_config_dict,
    override,
    required_input_multiple,
    save_config,
    shipped_config_path,
)
from enhancenet_core.conventions import BaseModelName, Decoder, HeadInput, ShuffleOrder, Upsampler

EXPECTED_SHIPPED = {
    f"{stem}_{variant}.yaml"
    for stem in (
        "coco_simplebaseline_r50_256x192",
        "coco_simplebaseline_r101_256x192",
        "coco_hrnet_w32_256x192",
        "coco_hrnet_w48_256x192",
        "coco_cpn_r50_256x192",
        "mpii_hourglass_2stage_256x256",
        "mpii_hourglass_4stage_256x256",
        "mpii_hourglass_8stage_256x256",
        "mpii_dlcm_256x256",
        "coco_ae_hourglass4_512x512",
    )
    for variant in ("base", "enhancenet")
} | {"synthetic_quick.yaml"}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


# --- shipped configs ----------------------------------------------------------------------------------------


def test_shipped_config_names() -> None:
    names = list_shipped_configs()
    assert set(names) == EXPECTED_SHIPPED
    assert all(not n.startswith("_") for n in names)
    partials = set(list_shipped_configs(include_partials=True)) - set(names)
    assert partials and all(n.startswith("_") for n in partials)


@pytest.mark.parametrize("name", sorted(EXPECTED_SHIPPED))
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(shipped_config_path(name))
    assert isinstance(cfg, Config)
    head = cfg.model.head
    if name.endswith("_enhancenet.yaml") or name == "synthetic_quick.yaml":
        # Sec. 4: L = 3, C = 128, r = 4, sub-pixel, eta = 1, input [F^LR, M^LR]
        assert head.enabled
        assert (head.num_layers, head.channels, head.upscale) == (3, 128, 4)
        assert head.upsampler is Upsampler.SUBPIXEL and head.upsampler_kernel == 3
        assert head.inputs is HeadInput.BOTH
        assert cfg.loss.hr_weight == 1.0
    else:
        assert not head.enabled
    assert cfg.target.sigma == 2.0
    if name.startswith("coco_ae_"):  # bottom-up: pose-ae-train's 512 input and Adam 2e-4
        assert cfg.model.input_size == (512, 512) and cfg.model.heatmap_size == (128, 128)
        assert cfg.model.num_keypoints == 17 and cfg.data.flip_pairs == COCO_FLIP_PAIRS
        assert (cfg.train.optimizer, cfg.train.lr, cfg.train.batch_size) == ("adam", 2e-4, 32)
    elif name.startswith("coco_"):
        assert cfg.model.input_size == (192, 256) and cfg.model.heatmap_size == (48, 64)
        assert cfg.model.num_keypoints == 17 and cfg.data.flip_pairs == COCO_FLIP_PAIRS
        assert (cfg.train.optimizer, cfg.train.lr, cfg.train.batch_size) == ("adam", 1e-3, 32)
    if name.startswith("mpii_"):
        assert cfg.model.input_size == (256, 256)
        assert cfg.model.num_keypoints == 16 and cfg.data.flip_pairs == MPII_FLIP_PAIRS
        if name.startswith("mpii_dlcm_"):
            assert cfg.model.base.name is BaseModelName.DLCM and cfg.model.base.hourglass_channels == 256
        else:
            assert cfg.model.base.name is BaseModelName.HOURGLASS
            assert cfg.model.base.stages == int(name.split("_")[2].removesuffix("stage"))


def test_shipped_cpn_pair_has_ohkm_after_the_head() -> None:
    base = load_config(shipped_config_path("coco_cpn_r50_256x192_base"))
    enh = load_config(shipped_config_path("coco_cpn_r50_256x192_enhancenet"))
    for cfg in (base, enh):
        assert cfg.model.base.name is BaseModelName.CPN and cfg.model.base.depth == 50
        assert cfg.loss.ohkm and cfg.loss.ohkm_topk == 8
    assert not base.model.head.enabled and enh.model.head.enabled
    assert base.train == enh.train and base.data == enh.data  # the pair differs only in the head


def test_shipped_specifics() -> None:
    r101 = load_config(shipped_config_path("coco_simplebaseline_r101_256x192_enhancenet"))
    assert r101.model.base.name is BaseModelName.SIMPLE_BASELINE and r101.model.base.depth == 101
    w48 = load_config(shipped_config_path("coco_hrnet_w48_256x192_base.yaml"))
    assert w48.model.base.name is BaseModelName.HRNET and w48.model.base.width == 48
    assert (w48.train.epochs, w48.train.lr_steps) == (210, (170, 200))
    quick = load_config(shipped_config_path("synthetic_quick"))
    assert quick.data.dataset == "synthetic" and quick.model.input_size == (96, 128)
    assert quick.model.base.depth == 18 and quick.train.epochs <= 5


def test_shipped_config_path_unknown() -> None:
    with pytest.raises(FileNotFoundError, match="coco_hrnet_w32_256x192_base"):
        shipped_config_path("coco_hrnet_w32_256x192_bse")


# --- round trips ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED_SHIPPED))
def test_round_trip_dict(name: str) -> None:
    cfg = load_config(shipped_config_path(name))
    d = config_to_dict(cfg)
    assert config_from_dict(d) == cfg
    assert config_to_dict(config_from_dict(d)) == d
    assert json.loads(json.dumps(d)) == d  # plain JSON types only


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    cfg = override(Config(), ["model.head.upscale=3", "train.lr_steps=[5, 8]", "model.base.pretrained=/w.pth"])
    path = save_config(cfg, tmp_path / f"c{suffix}")
    assert load_config(path) == cfg
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temporary file


def test_defaults_are_the_paper_setting() -> None:
    cfg = config_from_dict({})
    assert cfg == Config()
    assert cfg.model.head.shuffle_order is ShuffleOrder.FRAMEWORK


def test_enum_strings_and_lists_are_converted() -> None:
    cfg = config_from_dict(
        {"model": {"head": {"upsampler": "deconv", "upsampler_kernel": 12}, "input_size": [256, 256]},
         "test": {"decoder": "dark"}, "loss": {"hr_weight": 1}}
    )
    assert cfg.model.head.upsampler is Upsampler.DECONV
    assert cfg.test.decoder is Decoder.DARK
    assert cfg.model.input_size == (256, 256) and isinstance(cfg.model.input_size, tuple)
    assert isinstance(cfg.loss.hr_weight, float)


def test_yaml_exponent_floats(tmp_path: Path) -> None:
    """PyYAML reads '1e-3' as a string; our loader reads it as the number it is."""
    cfg = load_config(_write(tmp_path / "c.yaml", "train:\n  lr: 1e-3\n  weight_decay: 1.0e-4\n"))
    assert cfg.train.lr == pytest.approx(1e-3)
    assert cfg.train.weight_decay == pytest.approx(1e-4)


# --- errors -------------------------------------------------------------------------------------------------

BAD_VALUES = [
    # (dotted key, value, path named in the error, words expected in the message)
    ("model.head.upscale", 0, "model.head.upscale", ">= 1"),
    ("model.head.upscale", -2, "model.head.upscale", ">= 1"),
    ("model.num_keypoints", 0, "model.num_keypoints", ">= 1"),
    ("model.num_keypoints", -3, "model.num_keypoints", ">= 1"),
    ("model.head.num_layers", 1, "model.head.num_layers", ">= 2"),
    ("model.head.channels", 0, "model.head.channels", ">= 1"),
    ("model.head.kernel", 4, "model.head.kernel", "odd"),
    ("model.head.first_kernel", 2, "model.head.first_kernel", "odd"),
    ("model.head.upsampler_kernel", 4, "model.head.upsampler_kernel", "odd"),
    ("model.input_size", [190, 256], "model.input_size[0]", "divisible"),
    ("model.input_size", [192, 258], "model.input_size[1]", "divisible"),
    ("model.input_size", [192], "model.input_size", "2 items"),
    ("model.heatmap_stride", 8, "model.heatmap_stride", "stride of base model"),
    ("target.sigma", 0, "target.sigma", "> 0"),
    ("target.sigma", -1.5, "target.sigma", "> 0"),
    ("target.sigma", float("nan"), "target.sigma", "finite"),
    ("loss.hr_weight", -0.1, "loss.hr_weight", ">= 0"),
    ("loss.ohkm_topk", 18, "loss.ohkm_topk", "at most"),
    ("loss.ohkm_topk", 0, "loss.ohkm_topk", ">= 1"),
    ("model.base.depth", 42, "model.base.depth", "[18, 34, 50, 101, 152]"),
    ("model.base.width", 40, "model.base.width", "[18, 32, 48]"),
    ("model.base.stages", 0, "model.base.stages", ">= 1"),
    ("model.head.upsampler", "pixelshuffle", "model.head.upsampler", "'subpixel', 'deconv', 'bilinear_conv'"),
    ("test.decoder", "softargmax", "test.decoder", "'argmax', 'argmax_quarter', 'dark', 'unbiased'"),
    ("target.convention", "udp", "target.convention", "'legacy', 'unbiased'"),
    ("model.base.name", "resnet", "model.base.name", "'simple_baseline', 'hrnet'"),
    ("data.dataset", "crowdpos", "data.dataset", "'coco', 'mpii', 'synthetic', 'crowdpose'"),
    ("train.optimizer", "rmsprop", "train.optimizer", "'adam', 'sgd'"),
    ("data.flip_pairs", [[1, 2], [3, 17]], "data.flip_pairs[1][1]", "[0, 16]"),
    ("data.flip_pairs", [[1, 1]], "data.flip_pairs[0]", "different"),
    ("data.flip_pairs", [[1, 2], [2, 3]], "data.flip_pairs[1][0]", "already"),
    ("data.flip_pairs", [[1, -2]], "data.flip_pairs[0][1]", ">= 0"),
    ("train.lr_steps", [200, 170], "train.lr_steps[1]", "increasing"),
    ("train.batch_size", 0, "train.batch_size", ">= 1"),
    ("test.batch_size", 0, "test.batch_size", ">= 1"),
    ("train.lr", 0.0, "train.lr", "> 0"),
    ("data.augmentation.half_body_prob", 1.5, "data.augmentation.half_body_prob", "<= 1"),
    # wrong types
    ("model.head.upscale", "four", "model.head.upscale", "expected an integer"),
    ("model.head.upscale", 4.0, "model.head.upscale", "expected an integer"),
    ("model.head.upscale", True, "model.head.upscale", "expected an integer"),
    ("model.head.enabled", "yes please", "model.head.enabled", "boolean"),
    ("train.lr", [0.1], "train.lr", "expected a number"),
    ("train.lr_steps", 170, "train.lr_steps", "expected a list"),
    ("data.root", 3, "data.root", "expected a string"),
    ("model.head", 3, "model.head", "mapping"),
    ("model.base.pretrained", 5, "model.base.pretrained", "expected a string"),
]


@pytest.mark.parametrize(("key", "value", "path", "words"), BAD_VALUES)
def test_bad_values_name_the_field(key: str, value: Any, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(_nested(key, value))
    err = info.value
    assert isinstance(err, ValueError)
    assert err.path == path
    assert str(err).startswith(f"{path}: ")
    assert words in str(err)


def test_dataset_fixes_keypoint_count() -> None:
    with pytest.raises(ConfigError, match=r"^model\.num_keypoints: expected 16 keypoints"):
        config_from_dict({"data": {"dataset": "mpii", "flip_pairs": []}})
    # COCO flip pairs are out of range for 16 MPII keypoints
    with pytest.raises(ConfigError, match=r"^data\.flip_pairs\[7\]\[1\]"):
        config_from_dict({"data": {"dataset": "synthetic"}, "model": {"num_keypoints": 16}})


def test_deconv_upsampler_kernel_rules() -> None:
    ok = config_from_dict({"model": {"head": {"upsampler": "deconv", "upsampler_kernel": 12}}})
    assert ok.model.head.upsampler_kernel == 12  # even kernels are fine for a stride-4 deconv
    with pytest.raises(ConfigError, match=r"^model\.head\.upsampler_kernel: deconv_padding"):
        config_from_dict({"model": {"head": {"upsampler": "deconv", "upsampler_kernel": 4, "upscale": 1}}})


# --- input size the base model can use ------------------------------------------------------------------


def test_required_input_multiple_per_architecture() -> None:
    # Products of the stride-2 stages: ResNet 2^5; HRNet stem 4 * branches to 32; hourglass, DLCM, AE 4 * 2^4.
    expected = {"simple_baseline": 32, "cpn": 32, "hrnet": 32, "hourglass": 64, "dlcm": 64, "ae_hourglass": 64}
    assert {m.value: required_input_multiple(m) for m in BaseModelName} == expected
    assert required_input_multiple(BaseModelConfig(name=BaseModelName.HOURGLASS)) == 64
    assert required_input_multiple("cpn") == 32
    for name, multiple in expected.items():  # the multiple holds the heat-map stride of the base model
        mpii = {"data": {"dataset": "mpii"}, "model": {"num_keypoints": 16}} if name == "dlcm" else {"model": {}}
        cfg = config_from_dict({**mpii, "model": {**mpii["model"], "base": {"name": name}}})
        assert multiple % cfg.model.heatmap_stride == 0


def _model(name: str, width: int, height: int, **base: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"model": {"base": {"name": name, **base}, "input_size": [width, height]}}
    if name == "hourglass":
        data["data"] = {"dataset": "mpii", "flip_pairs": [list(p) for p in MPII_FLIP_PAIRS]}
        data["model"]["num_keypoints"] = 16
    return data


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("simple_baseline", (96, 128)),
        ("simple_baseline", (192, 256)),
        ("simple_baseline", (288, 384)),
        ("cpn", (192, 256)),
        ("hrnet", (192, 256)),
        ("hrnet", (32, 64)),
        ("hourglass", (256, 256)),
        ("hourglass", (192, 256)),  # 192 = 3 * 64
        ("hourglass", (64, 64)),
    ],
)
def test_usable_input_sizes_accepted(name: str, size: tuple[int, int]) -> None:
    assert config_from_dict(_model(name, *size)).model.input_size == size


@pytest.mark.parametrize(
    ("name", "size", "axis", "multiple"),
    [
        ("simple_baseline", (48, 64), 0, 32),  # 48 is divisible by the stride 4, not by 32
        ("simple_baseline", (192, 240), 1, 32),
        ("cpn", (208, 256), 0, 32),
        ("hrnet", (192, 272), 1, 32),
        ("hourglass", (96, 96), 0, 64),
        ("hourglass", (256, 160), 1, 64),  # fine for a ResNet (5 * 32), not for an hourglass
    ],
)
def test_unusable_input_sizes_rejected(name: str, size: tuple[int, int], axis: int, multiple: int) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(_model(name, *size))
    assert info.value.path == f"model.input_size[{axis}]"
    assert str(info.value).startswith(f"model.input_size[{axis}]: ")
    assert f"multiple of {multiple}" in str(info.value) and f"'{name}'" in str(info.value)
    assert str(size[axis]) in str(info.value)


def test_input_multiple_checked_for_files_and_overrides(tmp_path: Path) -> None:
    quick = shipped_config_path("synthetic_quick")
    assert load_config(quick).model.input_size == (96, 128)  # 96 = 3 * 32
    with pytest.raises(ConfigError, match=r"^model\.input_size\[0\]: .*multiple of 32") as info:
        load_config(quick, overrides=["model.input_size=[80, 128]"])
    assert "synthetic_quick.yaml" in str(info.value)
    mpii = shipped_config_path("mpii_hourglass_2stage_256x256_base")
    with pytest.raises(ConfigError, match=r"^model\.input_size\[1\]: .*multiple of 64"):
        load_config(mpii, overrides=["model.input_size=[256, 224]"])


def test_simple_baseline_stride_follows_deconv_layers() -> None:
    cfg = config_from_dict({"model": {"base": {"num_deconv_layers": 2}, "heatmap_stride": 8}})
    assert cfg.model.heatmap_size == (24, 32)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"model": {"head": {"upscal": 4}}}, "model.head.upscal"),
        ({"data": {"augmentation": {"rotation": 30}}}, "data.augmentation.rotation"),
        ({"trian": {}}, "trian"),
    ],
)
def test_unknown_key_at_depth(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert info.value.path == path
    assert "unknown key" in str(info.value)
    assert "allowed keys" in str(info.value)


def test_unknown_key_suggests() -> None:
    with pytest.raises(ConfigError, match="did you mean 'upscale'"):
        config_from_dict({"model": {"head": {"upscal": 4}}})


def test_error_from_file_names_file_and_path(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.yaml", "model:\n  head:\n    upscale: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == "model.head.upscale"
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "text"),
    [("bad.yaml", "model: [1, 2\n  head: {"), ("bad.yaml", "model:\n  head:\n\tupscale: 2\n"), ("bad.json", '{"model": ')],
)
def test_malformed_file(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(ConfigError, match="malformed"):
        load_config(_write(tmp_path / name, text))


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path / "c.yaml", "- 1\n- 2\n"))


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path / "c.yaml", "")) == Config()


def test_missing_file_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="suffix"):
        load_config(_write(tmp_path / "c.toml", "x = 1"))


# --- _base_ and overrides -------------------------------------------------------------------------------------


def test_base_merge_recursive(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "model:\n  head:\n    channels: 64\n    upscale: 2\ntrain:\n  lr_steps: [1, 2, 3]\n")
    _write(tmp_path / "b.json", json.dumps({"model": {"head": {"upscale": 3}}, "train": {"epochs": 9}}))
    sub = tmp_path / "sub"
    sub.mkdir()
    child = _write(sub / "c.yaml", "_base_: [../a.yaml, ../b.json]\nmodel:\n  head:\n    kernel: 5\ntrain:\n  lr_steps: [4]\n")
    cfg = load_config(child)
    assert cfg.model.head.channels == 64  # from a
    assert cfg.model.head.upscale == 3  # b overrides a
    assert cfg.model.head.kernel == 5  # child
    assert cfg.train.epochs == 9
    assert cfg.train.lr_steps == (4,)  # lists are replaced, not merged
    assert "_base_" not in load_config_dict(child)


def test_base_errors(tmp_path: Path) -> None:
    _write(tmp_path / "x.yaml", "_base_: y.yaml\n")
    _write(tmp_path / "y.yaml", "_base_: x.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(tmp_path / "x.yaml")
    _write(tmp_path / "m.yaml", "_base_: missing.yaml\n")
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        load_config(tmp_path / "m.yaml")
    _write(tmp_path / "n.yaml", "_base_: 3\n")
    with pytest.raises(ConfigError, match="_base_"):
        load_config(tmp_path / "n.yaml")
    with pytest.raises(ConfigError, match="_base_ is resolved only when loading a file"):
        config_from_dict({"_base_": "a.yaml"})


def test_override() -> None:
    cfg = Config()
    new = override(cfg, ["model.head.upscale=2", "train.lr_steps=[5, 8]", "model.head.upsampler=deconv",
                         "model.head.upsampler_kernel=8", "train.lr=2e-4"])
    assert new.model.head.upscale == 2 and new.train.lr_steps == (5, 8)
    assert new.model.head.upsampler is Upsampler.DECONV and new.train.lr == pytest.approx(2e-4)
    assert cfg == Config()  # the original is untouched (frozen)
    assert override(cfg, []) == cfg


@pytest.mark.parametrize(
    ("item", "path"),
    [
        ("model.head.upscale=0", "model.head.upscale"),
        ("model.hed.upscale=2", "model.hed"),
        ("model.num_keypoints.x=2", "model.num_keypoints"),
        ("model.head.upscale=[1", "model.head.upscale"),
        ("model.head.upscale", ""),
        ("=3", ""),
    ],
)
def test_override_errors(item: str, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        override(Config(), [item])
    assert info.value.path == path


def test_load_with_overrides_names_them(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.yaml", "model:\n  head:\n    upscale: 4\n")
    assert load_config(path, overrides=["model.head.upscale=2"]).model.head.upscale == 2
    with pytest.raises(ConfigError, match=r"with overrides \['model.head.upscale=0'\]"):
        load_config(path, overrides=["model.head.upscale=0"])


# --- JSON Schema ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", list_shipped_configs(include_partials=True))
def test_schema_accepts_shipped_files(validator: jsonschema.Draft202012Validator, name: str) -> None:
    raw = yaml.safe_load(shipped_config_path(name).read_text(encoding="utf-8"))
    validator.validate(raw)  # the file as written (with _base_)
    validator.validate(load_config_dict(shipped_config_path(name)))  # merged
    if not name.startswith("_"):
        validator.validate(config_to_dict(load_config(shipped_config_path(name))))  # every field


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model.head.upscal", 4),
        ("model.head.upscale", 0),
        ("model.head.upscale", "4"),
        ("model.head.upsampler", "pixelshuffle"),
        ("model.head.kernel", 4),
        ("model.base.depth", 42),
        ("model.input_size", [192]),
        ("target.sigma", 0),
        ("data.dataset", "crowdpos"),
        ("extra", 1),
    ],
)
def test_schema_rejects_bad(validator: jsonschema.Draft202012Validator, key: str, value: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(_nested(key, value))
    with pytest.raises(ConfigError):  # the loader agrees
        config_from_dict(_nested(key, value))


def test_schema_has_defaults_and_descriptions() -> None:
    schema = config_json_schema()
    head = schema["$defs"]["EnhanceNetConfig"]
    assert head["additionalProperties"] is False
    assert head["properties"]["upscale"]["default"] == 4
    assert head["properties"]["upscale"]["description"] == "r"
    assert head["properties"]["upsampler"]["enum"] == ["subpixel", "deconv", "bilinear_conv"]
    assert "L-1 regular convs" in head["properties"]["num_layers"]["description"]
    assert schema["properties"]["model"]["$ref"] == "#/$defs/ModelConfig"
