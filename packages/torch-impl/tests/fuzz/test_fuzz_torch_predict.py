"""Fuzz ``enhancenet-torch predict``: damaged images and boxes are refused with one line, and the previous
picture keeps its bytes."""

from __future__ import annotations

import struct
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from _fuzzkit import EXAMPLES, FUZZ, assert_refused, byte_damage
from hypothesis import given, settings
from hypothesis import strategies as st

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_runtime.testing import TINY_OVERRIDES
from enhancenet_torch.cli import main

FEW = settings(FUZZ, max_examples=max(10, EXAMPLES // 2))  # each call builds a model: half the examples


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from enhancenet_numpy.weights import init_weights, save_weights

    d = tmp_path_factory.mktemp("fuzz-predict")
    cfg = load_config(shipped_config_path("synthetic_quick"), TINY_OVERRIDES)
    weights = d / "weights.safetensors"
    save_weights(weights, init_weights(cfg.model, 0, np.float32), cfg.model)
    image = np.full((96, 80, 3), 90, np.uint8)
    cv2.rectangle(image, (20, 10), (60, 90), (200, 160, 120), -1)
    ok, png = cv2.imencode(".png", image)
    assert ok
    sets = [a for s in TINY_OVERRIDES for a in ("--set", s)]
    return {"weights": weights, "png": png.tobytes(), "sets": sets}


def _argv(kit: dict, image: Path, out: Path, boxes: list[str]) -> list[str]:
    return ["predict", "synthetic_quick", str(kit["weights"]), str(image), "--boxes", *boxes, "--out", str(out),
            "--device", "cpu", *kit["sets"]]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _huge_png(data) -> bytes:
    w = data.draw(st.integers(50_000, 2**31 - 1))
    h = data.draw(st.integers(50_000, 2**31 - 1))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        _png_chunk(b"IEND", b"")


def _whole_file(fn):
    return lambda data, png: fn(png)


IMAGE_DAMAGE = {
    "header claims a huge image": _huge_png,
    "cut short": lambda data, png: png[: data.draw(st.integers(0, len(png) - 1))],
    "random bytes": lambda data, png: data.draw(st.binary(min_size=1, max_size=512)),
    "a text file": lambda data, png: b"this is not an image\n",
    **{f"file: {k}": _whole_file(fn) for k, fn in byte_damage().items()},
}

BOX_DAMAGE = {
    "huge box": st.sampled_from(["0,0,1e308,10", "0,0,10,1e308", "1e308,0,10,10"]),
    "non-finite box": st.sampled_from(["nan,0,10,10", "0,0,inf,10", "0,-inf,10,10", "0,0,10,nan"]),
    "empty box": st.tuples(st.floats(0, 50), st.floats(0, 50), st.floats(max_value=0, allow_nan=False),
                           st.floats(1, 50)).map(lambda t: ",".join(f"{v:g}" for v in t)),
    "not 4 numbers": st.sampled_from(["1,2,3", "1,2,3,4,5", "a,b,c,d", "", "1;2;3;4"]),
}


def _run(kit: dict, kind: str, image_bytes: bytes, boxes: list[str], what: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-predict-") as tmp:
        d = Path(tmp)
        image, out = d / "fuzzed_image.png", d / "previous_pose.png"
        image.write_bytes(image_bytes)
        out.write_bytes(kit["png"])  # an existing picture: must keep its bytes
        names = ["fuzzed_image"] if kind == "image" else ["box", *boxes]
        assert_refused(f"torch predict {kind}", main, _argv(kit, image, out, boxes), d, names, what)


@FEW
@given(damage=st.sampled_from(sorted(IMAGE_DAMAGE)), data=st.data())
def test_fuzz_image(kit: dict, damage: str, data) -> None:
    fn = IMAGE_DAMAGE[damage]
    raw = fn(data) if damage == "header claims a huge image" else fn(data, kit["png"])
    _run(kit, "image", raw, ["10,10,40,60"], damage)


@FEW
@given(damage=st.sampled_from(sorted(BOX_DAMAGE)), data=st.data())
def test_fuzz_boxes(kit: dict, damage: str, data) -> None:
    _run(kit, "boxes", kit["png"], [data.draw(BOX_DAMAGE[damage])], damage)


def test_the_clean_input_is_accepted(kit: dict, tmp_path: Path) -> None:
    """The base the damage starts from is valid (else every refusal above would prove nothing)."""
    image, out = tmp_path / "ok.png", tmp_path / "pose.png"
    image.write_bytes(kit["png"])
    assert main(_argv(kit, image, out, ["10,10,40,60"])) == 0
    assert out.is_file() and out.stat().st_size > 0
