"""Fuzz ``enhancenet-spec validate CONFIG``: bad values and damaged YAML are refused with one line."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import yaml
from _fuzzkit import FUZZ, assert_refused, byte_damage
from hypothesis import given
from hypothesis import strategies as st

from enhancenet_core.config import shipped_config_path
from enhancenet_runtime.cli import main

BASE_TEXT = shipped_config_path("synthetic_quick").read_text(encoding="utf-8")
NON_INT = st.sampled_from([1.5, "17", None, [], {}, True, math.nan])
NON_POSITIVE_INT = st.integers(max_value=0)
BAD_FLOAT = st.sampled_from([math.nan, math.inf, -math.inf, "fast", None, []])

#: (dotted path, strategy of values that are invalid there)
BAD_VALUES: dict[str, st.SearchStrategy] = {
    "model.num_keypoints": st.one_of(NON_INT, NON_POSITIVE_INT, st.integers(min_value=2**63)),
    "model.input_size": st.one_of(st.sampled_from([[96], [96, 128, 3], "96x128", [96.5, 128], None]),
                                  st.tuples(st.integers(max_value=0), st.just(128)).map(list)),
    "model.heatmap_stride": st.one_of(NON_INT, NON_POSITIVE_INT),
    "model.head.upscale": st.one_of(NON_INT, NON_POSITIVE_INT),
    "model.head.num_layers": st.one_of(NON_INT, st.integers(max_value=-1)),
    "model.head.channels": st.one_of(NON_INT, NON_POSITIVE_INT),
    "model.head.upsampler": st.sampled_from(["bicubic", "", 3, None]),
    "model.head.shuffle_order": st.sampled_from(["random", "PAPER ", 1]),
    "model.head.inputs": st.sampled_from(["all", None, ["both"]]),
    "model.base.name": st.sampled_from(["resnet", "", None, 18]),
    "model.base.depth": st.sampled_from([17, 0, -18, "18", 18.5]),
    "target.sigma": st.one_of(BAD_FLOAT, st.floats(max_value=0.0, allow_nan=False)),
    "target.convention": st.sampled_from(["new", None, 0]),
    "loss.hr_weight": st.one_of(BAD_FLOAT, st.floats(max_value=-1e-9, allow_nan=False)),
    "train.lr": st.one_of(BAD_FLOAT, st.floats(max_value=0.0, allow_nan=False)),
    "train.seed": st.one_of(st.integers(min_value=2**64), st.integers(max_value=-1), st.just(1.5)),
    "train.batch_size": st.one_of(NON_INT, NON_POSITIVE_INT),
    "train.epochs": st.one_of(NON_INT, st.integers(max_value=-1)),
    "train.optimizer": st.sampled_from(["sgdx", None, 1]),
    "data.flip_pairs": st.sampled_from([[[1]], [[1, 99]], [[-1, 2]], "x", [[1, 2, 3]]]),
    "test.decoder": st.sampled_from(["magic", None, 7]),
    "test.batch_size": st.one_of(NON_INT, NON_POSITIVE_INT),
}


def _set(tree: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree[key]
    tree[leaf] = value


def _run(kind: str, text: bytes, names: list[str], what: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-config-") as tmp:
        d = Path(tmp)
        cfg = d / "fuzzed_config.yaml"
        cfg.write_bytes(text)
        assert_refused(kind, main, ["validate", str(cfg)], d, ["fuzzed_config", *names], what)


def _value(path: str, data) -> None:
    value = data.draw(BAD_VALUES[path])
    tree = yaml.safe_load(BASE_TEXT)
    _set(tree, path, value)
    _run("config values", yaml.safe_dump(tree, sort_keys=False).encode(), [path.rsplit(".", 1)[-1]],
         f"{path} = {value!r}")


def _unknown_key(data) -> None:
    section = data.draw(st.sampled_from(["", "model.", "model.head.", "train.", "test."]))
    key = data.draw(st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True).filter(
        lambda k: k not in {"model", "target", "loss", "data", "train", "test", "base", "head"}))
    tree = yaml.safe_load(BASE_TEXT)
    node = tree
    for part in filter(None, section.split(".")):
        node = node[part]
    if key in node:
        return
    node[key] = 1
    _run("config values", yaml.safe_dump(tree, sort_keys=False).encode(), [key], f"unknown key {section}{key}")


def _duplicate_key(data) -> None:
    line = data.draw(st.sampled_from(["  num_keypoints: 17", "  lr: 0.001", "  seed: 0", "  sigma: 2.0"]))
    text = BASE_TEXT.replace(line + "\n", line + "\n" + line + "\n", 1)
    assert text != BASE_TEXT
    _run("config yaml", text.encode(), [line.split(":")[0].strip(), "duplicate"], f"duplicate {line.strip()}")


YAML_DAMAGE = {
    "unclosed bracket": lambda b: b.replace(b"[96, 128]", b"[96, 128"),
    "tab indentation": lambda b: b.replace(b"\n  base:", b"\n\tbase:"),
    "python tag": lambda b: b.replace(b"sigma: 2.0", b"sigma: !!python/object/apply:os.getcwd []"),
    "top-level list": lambda b: b"- 1\n- 2\n",
    "top-level scalar": lambda b: b"just a string\n",
    "alias to a missing anchor": lambda b: b.replace(b"sigma: 2.0", b"sigma: *nowhere"),
    # an empty file is a valid config (every default); everything else byte_damage() makes is not
    **{k: v for k, v in byte_damage().items() if k != "empty file"},
    # byte_damage()'s cut at half the bytes lands on a line boundary of this file: the first sections alone are a
    # valid partial config (missing sections take their defaults). Cut inside a flow list instead.
    "truncated": lambda b: b[: b.index(b"[[1, 2], [3, 4]") + 9],
}


@FUZZ
@given(path=st.sampled_from(sorted(BAD_VALUES)), data=st.data())
def test_fuzz_config_values(path: str, data) -> None:
    _value(path, data)


@FUZZ
@given(damage=st.sampled_from([*sorted(YAML_DAMAGE), "duplicate key", "unknown key"]), data=st.data())
def test_fuzz_config_yaml(damage: str, data) -> None:
    if damage == "duplicate key":
        _duplicate_key(data)
    elif damage == "unknown key":
        _unknown_key(data)
    else:
        _run("config yaml", YAML_DAMAGE[damage](BASE_TEXT.encode()), [], damage)


def test_fuzz_config_size_limit() -> None:
    """A 12 MB config (comments) is refused at once, not parsed for minutes."""
    _run("config yaml", BASE_TEXT.encode() + b"# padding padding padding\n" * 480_000, ["size", "MB", "bytes"],
         "12 MB config")


SURVEY = {
    "values": (BAD_VALUES, _value),
    "yaml": ({**YAML_DAMAGE, "duplicate key": None, "unknown key": None},
             lambda damage, data: _duplicate_key(data) if damage == "duplicate key" else _unknown_key(data)
             if damage == "unknown key" else _run("config yaml", YAML_DAMAGE[damage](BASE_TEXT.encode()), [], damage)),
}


def test_the_clean_input_is_accepted(tmp_path: Path) -> None:
    """The base every damage starts from is valid, also after a YAML round trip (as the value damage writes it)."""
    for i, text in enumerate((BASE_TEXT, yaml.safe_dump(yaml.safe_load(BASE_TEXT), sort_keys=False))):
        (tmp_path / f"c{i}.yaml").write_text(text, encoding="utf-8")
        assert main(["validate", str(tmp_path / f"c{i}.yaml")]) == 0
