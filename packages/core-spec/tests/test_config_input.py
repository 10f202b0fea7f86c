"""Hostile config input: every bad file or override is refused with one ConfigError line naming the file and
the problem (encoding, size, nesting, duplicate keys, ranges); valid files near the limits still load."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from enhancenet_core.config import (
    Config,
    ConfigError,
    EnhanceNetConfig,
    config_json_schema,
    load_config,
    override,
    validate_head,
)
from enhancenet_core.config.files import MAX_BASE_FILES, MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_NODES
from enhancenet_core.config.rules import SEED_MAX
from enhancenet_core.conventions import Upsampler


def _refused(path: Path, *words: str) -> str:
    """Load ``path``; it must raise one ConfigError line that names the file and every word."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text, text
    for word in (str(path), *words):
        assert word in text, text
    return text


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ bytes


def test_binary_garbage(tmp_path: Path) -> None:
    _refused(_write(tmp_path, "garbage.yaml", bytes(range(256)) * 8), "expected UTF-8 text", "byte 128")


def test_invalid_utf8_names_the_byte(tmp_path: Path) -> None:
    data = "train:\n  optimizer: 'sgd'  # caf\xe9\n".encode("latin-1")
    _refused(_write(tmp_path, "latin1.yaml", data), "UTF-8", f"byte {data.index(0xE9)} ", "0xe9")


def test_invalid_utf8_json(tmp_path: Path) -> None:
    _refused(_write(tmp_path, "bad.json", b'{"train": {"optimizer": "\xff"}}'), "UTF-8", "0xff")


def test_nul_byte(tmp_path: Path) -> None:
    text = "train:\n  seed: 1\x00\n"
    _refused(_write(tmp_path, "nul.yaml", text), f"NUL byte at offset {text.index(chr(0))}")


def test_size_limit_named(tmp_path: Path) -> None:
    body = "train:\n  seed: 3\n"
    path = _write(tmp_path, "big.yaml", body + "#" * (MAX_CONFIG_BYTES + 1 - len(body)))
    _refused(path, f"larger than the {MAX_CONFIG_BYTES} bytes", "256 KiB")


def test_file_at_the_size_limit_loads(tmp_path: Path) -> None:
    body = "train:\n  seed: 3\n"
    path = _write(tmp_path, "edge.yaml", body + "#" * (MAX_CONFIG_BYTES - len(body) - 1) + "\n")
    assert path.stat().st_size == MAX_CONFIG_BYTES
    assert load_config(path).train.seed == 3


def test_ten_megabytes_refused_quickly(tmp_path: Path) -> None:
    path = _write(tmp_path, "huge.yaml", "train:\n" + "  # padding\n" * (10 * 1024 * 1024 // 12))
    start = time.perf_counter()
    _refused(path, "256 KiB")
    assert time.perf_counter() - start < 5.0  # read stops at the limit: no parse of 10 MB


def test_directory_and_unreadable_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    _refused(folder, "expected a regular file")
    locked = _write(tmp_path, "locked.yaml", "train:\n  seed: 1\n")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running with permissions that read a mode-000 file (root)")
        _refused(locked, "cannot read the file")
    finally:
        locked.chmod(0o644)


# ------------------------------------------------------------------------------------------------ nesting


@pytest.mark.parametrize("depth", [MAX_CONFIG_DEPTH + 1, 5000, MAX_CONFIG_BYTES // 2 - 20])
def test_deep_flow_brackets(tmp_path: Path, depth: int) -> None:
    path = _write(tmp_path, "deep.yaml", "train:\n  lr_steps: " + "[" * depth + "]" * depth + "\n")
    start = time.perf_counter()
    _refused(path, f"brackets nested deeper than {MAX_CONFIG_DEPTH} levels at line 2")
    assert time.perf_counter() - start < 5.0


def test_brackets_in_quotes_and_comments_are_not_nesting(tmp_path: Path) -> None:
    deep = "[" * (MAX_CONFIG_DEPTH + 5)
    text = f"data:\n  root: '{deep}'  # {deep}\n  train_set: \"{deep}\\\"\"\n"
    cfg = load_config(_write(tmp_path, "quoted.yaml", text))
    assert cfg.data.root == deep and cfg.data.train_set == deep + '"'


def test_deep_block_nesting(tmp_path: Path) -> None:
    text = "".join(" " * d + f"k{d}:\n" for d in range(MAX_CONFIG_DEPTH + 2))
    _refused(_write(tmp_path, "block.yaml", text), f"deeper than {MAX_CONFIG_DEPTH} levels")


def test_very_deep_block_nesting_is_one_line(tmp_path: Path) -> None:
    text = "".join(" " * d + f"k{d}:\n" for d in range(700))  # 250 KB: Python's recursion runs out first
    _refused(_write(tmp_path, "block.yaml", text), f"deeper than {MAX_CONFIG_DEPTH} levels")


def test_deep_json(tmp_path: Path) -> None:
    depth = 100_000
    text = '{"a": ' + "[" * depth + "]" * depth + "}"
    _refused(_write(tmp_path, "deep.json", text), "malformed JSON", f"deeper than {MAX_CONFIG_DEPTH} levels")


def test_alias_bomb(tmp_path: Path) -> None:
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, name in zip("abcde", "bcdef", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    start = time.perf_counter()
    _refused(_write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n"), f"more than {MAX_CONFIG_NODES} values")
    assert time.perf_counter() - start < 5.0


def test_self_referencing_alias(tmp_path: Path) -> None:
    _refused(_write(tmp_path, "loop.yaml", "train:\n  lr_steps: &s [1, *s]\n"), "deeper than")


def test_shared_aliases_within_limits_load(tmp_path: Path) -> None:
    text = "train:\n  lr_steps: &steps [5, 8]\nmodel:\n  base: {name: simple_baseline}\n"
    text += "data:\n  augmentation: &aug {flip: false}\n"
    cfg = load_config(_write(tmp_path, "alias.yaml", text))
    assert cfg.train.lr_steps == (5, 8) and cfg.data.augmentation.flip is False


def test_too_many_base_files(tmp_path: Path) -> None:
    levels = 8  # each file lists the next one twice: 2**8 reads
    for i in range(levels):
        _write(tmp_path, f"f{i}.yaml", f"_base_: [f{i + 1}.yaml, f{i + 1}.yaml]\n")
    _write(tmp_path, f"f{levels}.yaml", "train:\n  seed: 1\n")
    _refused(tmp_path / "f0.yaml", "_base_", f"more than {MAX_BASE_FILES} files")


def test_diamond_base_within_limit_loads(tmp_path: Path) -> None:
    _write(tmp_path, "leaf.yaml", "train:\n  seed: 5\n")
    _write(tmp_path, "mid.yaml", "_base_: [leaf.yaml, leaf.yaml]\n")
    assert load_config(_write(tmp_path, "top.yaml", "_base_: [mid.yaml, mid.yaml]\n")).train.seed == 5


# ------------------------------------------------------------------------------------------------ keys


def test_duplicate_yaml_key_names_key_and_lines(tmp_path: Path) -> None:
    text = "model:\n  head:\n    upscale: 2\n    channels: 64\n    upscale: 4\n"
    _refused(_write(tmp_path, "dup.yaml", text), "duplicate key 'upscale' at line 5 (first at line 3)")


def test_duplicate_section(tmp_path: Path) -> None:
    text = "train:\n  seed: 1\ntest:\n  batch_size: 4\ntrain:\n  lr: 0.5\n"
    _refused(_write(tmp_path, "dup.yaml", text), "duplicate key 'train' at line 5 (first at line 1)")


def test_duplicate_in_flow_mapping(tmp_path: Path) -> None:
    _refused(_write(tmp_path, "dup.yaml", "train: {seed: 1, seed: 2}\n"), "duplicate key 'seed' at line 1")


def test_duplicate_json_key(tmp_path: Path) -> None:
    _refused(_write(tmp_path, "dup.json", '{"train": {"seed": 1, "seed": 2}}'), "duplicate key 'seed'", "JSON")


def test_yaml_merge_key_may_be_overridden(tmp_path: Path) -> None:
    text = "model:\n  base: {name: simple_baseline}\n  head:\n    <<: {channels: 64, upscale: 2}\n    upscale: 4\n"
    head = load_config(_write(tmp_path, "merge.yaml", text)).model.head
    assert (head.channels, head.upscale) == (64, 4)


def test_duplicate_key_in_override() -> None:
    with pytest.raises(ConfigError, match=r"^model\.head: could not parse .*duplicate key 'upscale'") as info:
        override(Config(), ["model.head={upscale: 2, upscale: 4}"])
    assert "\n" not in str(info.value)


def test_malformed_override_is_one_line_and_short() -> None:
    with pytest.raises(ConfigError) as info:
        override(Config(), ["train.lr_steps=" + "[" * 10_000])
    text = str(info.value)
    assert "\n" not in text and text.startswith("train.lr_steps: ") and len(text) < 300, text


def test_malformed_yaml_is_one_line_with_position(tmp_path: Path) -> None:
    _refused(_write(tmp_path, "broken.yaml", "model:\n  head: {upscale: 2\n"), "malformed YAML", "line 3")


def test_giant_integer(tmp_path: Path) -> None:
    _refused(_write(tmp_path, "int.yaml", "train:\n  seed: " + "9" * 5000 + "\n"), "malformed YAML", "digits")


# ------------------------------------------------------------------------------------------------ ranges


def test_seed_range() -> None:
    assert SEED_MAX == 2**32 - 1  # np.random.seed's range; torch/paddle/mindspore take at least that
    assert override(Config(), [f"train.seed={SEED_MAX}"]).train.seed == SEED_MAX
    for bad, expected in ((SEED_MAX + 1, "<= 4294967295"), (2**40, "<= 4294967295"), (-1, ">= 0")):
        with pytest.raises(ConfigError, match=rf"^train\.seed: expected a value {expected}, got {bad}$"):
            override(Config(), [f"train.seed={bad}"])


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_integers_must_fit_in_64_bits(value: int) -> None:
    with pytest.raises(ConfigError, match=rf"^model\.num_keypoints: expected an integer that fits in 64 bits .*got {value}$"):
        override(Config(), ["data.dataset=synthetic", f"model.num_keypoints={value}"])


def test_seed_range_in_json_schema() -> None:
    seed = config_json_schema()["$defs"]["TrainConfig"]["properties"]["seed"]
    assert (seed["minimum"], seed["maximum"]) == (0, SEED_MAX)


def test_seed_from_file_names_file(tmp_path: Path) -> None:
    _refused(_write(tmp_path, "seed.json", json.dumps({"train": {"seed": 2**40}})), "train.seed", "4294967295")
    _refused(_write(tmp_path, "seed70.json", json.dumps({"train": {"seed": 2**70}})), "train.seed", "64 bits")


# ------------------------------------------------------------------------------------------------ head rules


def test_validate_head_is_the_config_rule() -> None:
    validate_head(EnhanceNetConfig())
    validate_head(EnhanceNetConfig(num_layers=2))
    cases = [
        (EnhanceNetConfig(num_layers=1), "model.head.num_layers: expected a value >= 2, got 1"),
        (EnhanceNetConfig(channels=0), "model.head.channels: expected a value >= 1, got 0"),
        (EnhanceNetConfig(upscale=0), "model.head.upscale: expected a value >= 1, got 0"),
        (EnhanceNetConfig(kernel=2), "model.head.kernel: expected a value odd"),
        (EnhanceNetConfig(upsampler_kernel=4), "model.head.upsampler_kernel: expected an odd kernel"),
        (EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12, upscale=1), "kernel 12 and stride 1"),
        (EnhanceNetConfig(upsampler="nope"), "model.head.upsampler: expected one of"),  # type: ignore[arg-type]
    ]
    for head, message in cases:
        with pytest.raises(ConfigError) as info:
            validate_head(head)
        assert message in str(info.value), (head, str(info.value))
        # the config refuses the same head with the same message
        if head.upsampler in list(Upsampler):
            with pytest.raises(ConfigError, match=message.split(":")[0].replace(".", r"\.")):
                override(Config(), [f"model.head.{k}={v}" for k, v in _head_fields(head).items()])


def _head_fields(head: EnhanceNetConfig) -> dict[str, object]:
    default = EnhanceNetConfig()
    out: dict[str, object] = {}
    for name in ("num_layers", "channels", "upscale", "kernel", "upsampler_kernel", "upsampler"):
        value = getattr(head, name)
        if value != getattr(default, name):
            out[name] = value.value if isinstance(value, Upsampler) else value
    return out


# ---------------------------------------------------------------- _base_ naming a shipped config (issue 19 item 5)
def test_base_names_a_shipped_config(tmp_path):
    from enhancenet_core.config import load_config, shipped_config_path

    shipped = load_config(shipped_config_path("coco_simplebaseline_r50_256x192_enhancenet"))
    for name in ("coco_simplebaseline_r50_256x192_enhancenet", "coco_simplebaseline_r50_256x192_enhancenet.yaml"):
        user = tmp_path / f"mine_{len(name)}.yaml"
        user.write_text(f"_base_: {name}\ntrain:\n  lr: 0.0005\n")
        cfg = load_config(user)
        assert cfg.train.lr == 0.0005
        assert cfg.model == shipped.model and cfg.data == shipped.data


def test_base_prefers_a_file_beside_the_config(tmp_path):
    from enhancenet_core.config import load_config, shipped_config_path

    (tmp_path / "coco_simplebaseline_r50_256x192_enhancenet.yaml").write_text("model:\n  num_keypoints: 17\n")
    user = tmp_path / "mine.yaml"
    user.write_text("_base_: coco_simplebaseline_r50_256x192_enhancenet.yaml\n")
    local = load_config(tmp_path / "coco_simplebaseline_r50_256x192_enhancenet.yaml")
    assert load_config(user) == local
    assert load_config(user) != load_config(shipped_config_path("coco_simplebaseline_r50_256x192_enhancenet"))


def test_base_that_is_neither_a_file_nor_a_shipped_name_is_named(tmp_path):
    import pytest

    from enhancenet_core.config import load_config

    user = tmp_path / "mine.yaml"
    user.write_text("_base_: coco_simplebaseline_r50_256x192_enhancenot\n")
    with pytest.raises(FileNotFoundError, match=r"enhancenot.*names no shipped config"):
        load_config(user)
