"""Fuzz ``enhancenet-convert SRC.safetensors DST``: a damaged safetensors header or ``model_config`` is refused
by the framework-free front end (no back end runs), and an existing DST keeps its bytes."""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import numpy as np
from _fuzzkit import FUZZ, assert_refused, byte_damage
from hypothesis import given
from hypothesis import strategies as st

from enhancenet_core.canonical import model_config_json
from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_core.safetensors_io import safetensors_bytes
from enhancenet_runtime.convert import main

CFG = ModelConfig(head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3)
MODEL_JSON = json.loads(model_config_json(CFG))
TENSORS = {"enhance.upsample.weight": np.ones((12, 8, 3, 3), np.float32), "enhance.upsample.bias": np.zeros(12, np.float32)}


def _pack(header: bytes, body: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + body


def _valid() -> bytes:
    return safetensors_bytes(TENSORS, {"model_config": model_config_json(CFG)})


def _split(raw: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _with_header(mutate) -> bytes:
    header, body = _split(_valid())
    mutate(header)
    return _pack(json.dumps(header).encode(), body)


def _model(mutate):
    def apply(header):
        cfg = json.loads(json.dumps(MODEL_JSON))
        mutate(cfg)
        header["__metadata__"]["model_config"] = json.dumps(cfg)
    return apply


def _length_too_big(data) -> bytes:
    raw = _valid()
    return struct.pack("<Q", data.draw(st.integers(len(raw) - 7, 2**64 - 1))) + raw[8:]


def _cut_in_header(data) -> bytes:
    raw = _valid()
    (n,) = struct.unpack("<Q", raw[:8])
    return raw[: data.draw(st.integers(0, 8 + n - 1))]


def _header_text(data) -> bytes:
    text = data.draw(st.sampled_from([b"{not json", b"\xff\xfe{}", b"[1, 2]", b"\"x\"", b"null", b"{" * 50_000,
                                      b"[" * 100_000 + b"]" * 100_000]))
    return _pack(text)


def _metadata_type(data) -> bytes:
    value = data.draw(st.sampled_from([[1], "x", 3]))
    return _with_header(lambda h: h.__setitem__("__metadata__", value))


def _no_model_config(data) -> bytes:
    return _with_header(lambda h: h["__metadata__"].pop("model_config"))


def _model_config_text(data) -> bytes:
    text = data.draw(st.one_of(st.sampled_from(["", "{", "[]", "null", "\"x\"", "{'a': 1}"]),
                               st.text(max_size=20).filter(lambda t: not t.strip().startswith("{"))))
    return _with_header(lambda h: h["__metadata__"].__setitem__("model_config", text))


BAD_MODEL = {
    "head.upscale": st.sampled_from([0, -2, "2", 2.5, None]),
    "head.channels": st.sampled_from([0, -8, "8", None]),
    "head.upsampler": st.sampled_from(["bicubic", 1]),
    "num_keypoints": st.sampled_from([0, -3, 1.5, "3"]),
    "base.name": st.sampled_from(["resnet", "", None]),
    "input_size": st.sampled_from([[0, 64], [64], "64x64", None]),
}


def _model_value(data) -> bytes:
    path = data.draw(st.sampled_from(sorted(BAD_MODEL)))
    value = data.draw(BAD_MODEL[path])

    def put(cfg):
        *parents, leaf = path.split(".")
        for key in parents:
            cfg = cfg[key]
        cfg[leaf] = value
    return _with_header(_model(put))


def _model_unknown_key(data) -> bytes:
    key = data.draw(st.from_regex(r"zz_[a-z]{1,8}", fullmatch=True))
    return _with_header(_model(lambda cfg: cfg.__setitem__(key, 1)))


def _file_damage(fn):
    return lambda data: fn(_valid())


def _tensor_nonfinite(data) -> bytes:
    tensors = {k: v.copy() for k, v in TENSORS.items()}
    name = data.draw(st.sampled_from(sorted(tensors)))
    flat = tensors[name].reshape(-1)
    flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return safetensors_bytes(tensors, {"model_config": model_config_json(CFG)})


def _tensor_entry(data) -> bytes:
    header, body = _split(_valid())
    name = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
    entry = header[name]
    field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets", "missing", "overlap", "cut"]))
    if field == "dtype":
        entry["dtype"] = data.draw(st.sampled_from(["F128", "", "float32", 7]))
    elif field == "shape":
        entry["shape"] = data.draw(st.sampled_from([[-1], [1.5], "x", [10**6], [2, 2]]))
    elif field == "data_offsets":
        lo, hi = entry["data_offsets"]
        entry["data_offsets"] = data.draw(st.sampled_from([[hi, lo], [-4, hi - lo - 4], [lo, hi + 4], [lo], "x"]))
    elif field == "missing":
        entry.pop(data.draw(st.sampled_from(["dtype", "shape", "data_offsets"])))
    elif field == "overlap":
        others = [k for k in header if k not in ("__metadata__", name)]
        header[name]["data_offsets"] = list(header[others[0]]["data_offsets"])
        header[name]["shape"] = list(header[others[0]]["shape"])
    else:
        return _pack(json.dumps(header).encode(), body[: data.draw(st.integers(0, len(body) - 1))])
    return _pack(json.dumps(header).encode(), body)


TENSOR_DAMAGE = {
    "non-finite weight": (["nan", "inf", "finite"], _tensor_nonfinite),
    "tensor entry": (["tensor", "safetensors"], _tensor_entry),
}


DAMAGE = {
    "header length beyond the file": (["header", "safetensors"], _length_too_big),
    "cut inside the header": (["header", "safetensors", "8-byte"], _cut_in_header),
    "header not a JSON object": (["header", "safetensors"], _header_text),
    "__metadata__ not an object": (["__metadata__", "metadata"], _metadata_type),
    "no model_config": (["model_config"], _no_model_config),
    "model_config not JSON of a model": (["model_config"], _model_config_text),
    "model_config value": (["model_config"], _model_value),
    "model_config unknown key": (["model_config", "zz_"], _model_unknown_key),
    **{f"file: {k}": (["safetensors", "header"], _file_damage(fn)) for k, fn in byte_damage().items()},
}


def _run(damage: str, data) -> None:
    names, make = {**DAMAGE, **TENSOR_DAMAGE}[damage]
    raw = make(data)
    with tempfile.TemporaryDirectory(prefix="fuzz-weights-") as tmp:
        d = Path(tmp)
        src, dst = d / "fuzzed_weights.safetensors", d / "previous_output.safetensors"
        src.write_bytes(raw)
        dst.write_bytes(_valid())  # an existing output: must keep its bytes
        kind = "safetensors tensors" if damage in TENSOR_DAMAGE else "safetensors header"
        assert_refused(kind, main, [str(src), str(dst)], d, ["fuzzed_weights", *names], damage)


@FUZZ
@given(damage=st.sampled_from(sorted(DAMAGE)), data=st.data())
def test_fuzz_safetensors_header(damage: str, data) -> None:
    _run(damage, data)


@FUZZ
@given(damage=st.sampled_from(sorted(TENSOR_DAMAGE)), data=st.data())
def test_fuzz_safetensors_tensors(damage: str, data) -> None:
    _run(damage, data)


SURVEY = {"header": (DAMAGE, _run), "tensors": (TENSOR_DAMAGE, _run)}


def test_the_clean_input_passes_the_front_end(tmp_path: Path) -> None:
    """The base every damage starts from passes every front-end check (the back end is what runs next)."""
    from enhancenet_core.canonical import model_config_from_json
    from enhancenet_core.safetensors_io import read_safetensors

    (tmp_path / "w.safetensors").write_bytes(_valid())
    tensors, meta = read_safetensors(tmp_path / "w.safetensors")
    assert set(tensors) == set(TENSORS) and model_config_from_json(meta["model_config"]) == CFG
