"""The canonical weight file (enhancenet_core.canonical): writer, NumPy reader, header, checks, shuffle order."""

from __future__ import annotations

import json
import re
import struct
from dataclasses import replace

import numpy as np
import pytest

from enhancenet_core.canonical import (
    FORMAT_NAME,
    FORMAT_VERSION,
    canonical_header,
    check_tensors,
    convert_shuffle_order,
    expected_shapes,
    load_canonical_arrays,
    model_config_json,
    read_canonical_metadata,
    read_safetensors,
    reorder_subpixel,
    safetensors_bytes,
    save_canonical_arrays,
    save_safetensors,
)
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder
from enhancenet_core.namemap import parameter_specs
from enhancenet_core.pixel_shuffle import pixel_shuffle

R18 = ModelConfig(base=BaseModelConfig(depth=18, deconv_channels=16, num_deconv_layers=1),
                  head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3)
HEAD = ModelConfig(head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3)
FC = 4


def _arrays(cfg: ModelConfig, seed: int = 0, feature_channels: int | None = None, dtype=np.float32) -> dict:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s.shape).astype(dtype) for k, s in parameter_specs(cfg, feature_channels).items()}


def test_writer_follows_the_safetensors_layout_by_hand():
    """8-byte little-endian header length, compact JSON (metadata first, keys sorted), space padding to 8."""
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([1.5], dtype=np.float64)
    data = safetensors_bytes({"b": b, "a": a}, {"z": "1", "m": "x"})
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    text = data[8:8 + n].decode()
    assert text.rstrip(" ") == ('{"__metadata__":{"m":"x","z":"1"},"b":{"dtype":"F64","shape":[1],'
                                '"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}}')
    assert data[8 + n:] == b.tobytes() + a.tobytes()


def test_the_safetensors_library_reads_our_bytes_and_we_read_its_files(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    tensors = {"w": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "i": np.array([3, -1], np.int64),
               "h": np.ones((0, 2), np.float16)}
    ours = tmp_path / "ours.safetensors"
    save_safetensors(ours, tensors, {"k": "v"})
    theirs = st.load_file(str(ours))
    assert set(theirs) == set(tensors) and all(np.array_equal(theirs[k], tensors[k]) for k in tensors)
    lib = tmp_path / "lib.safetensors"
    st.save_file(tensors, str(lib), metadata={"a": "b", "c": "d"})
    back, meta = read_safetensors(lib)
    assert meta == {"a": "b", "c": "d"}
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and np.array_equal(back[k], v), k
        assert back[k].flags.writeable


def test_reader_rejects_broken_files_naming_them(tmp_path):
    good = safetensors_bytes({"x": np.zeros(4, np.float32)})
    cases = {
        "short.safetensors": b"abc",
        "notjson.safetensors": struct.pack("<Q", 8) + b"notjson!",
        "cut.safetensors": good[:-4],
        "huge.safetensors": struct.pack("<Q", 1 << 40) + b"{}",
    }
    (n,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8:8 + n])
    header["y"] = {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}  # overlaps x
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    cases["overlap.safetensors"] = struct.pack("<Q", len(text)) + text + good[8 + n:]
    header["y"] = {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]}
    text = json.dumps(header).encode()
    cases["bf16.safetensors"] = struct.pack("<Q", len(text)) + text + good[8 + n:] + b"\0" * 4
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=re.escape(name)):
            read_safetensors(tmp_path / name)
    with pytest.raises(ValueError, match="'y' has dtype 'BF16'"):
        read_safetensors(tmp_path / "bf16.safetensors")
    with pytest.raises(ValueError, match="'x' and 'y' overlap"):
        read_safetensors(tmp_path / "overlap.safetensors")
    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors"):
        read_safetensors(tmp_path / "nope.safetensors")


def test_round_trip_header_and_deterministic_bytes(tmp_path):
    arrays = _arrays(R18, 1)
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_canonical_arrays(a, arrays, R18, {"seed": "1", "note": {"x": [1, 2]}})
    save_canonical_arrays(b, dict(reversed(list(arrays.items()))), R18, {"note": {"x": [1, 2]}, "seed": "1"})
    assert a.read_bytes() == b.read_bytes()
    loaded = load_canonical_arrays(a, R18)
    assert list(loaded) == list(parameter_specs(R18))
    assert all(np.array_equal(loaded[k], arrays[k]) and loaded[k].dtype == np.float32 for k in arrays)
    meta = read_canonical_metadata(a)
    assert meta["format"] == FORMAT_NAME and meta["format_version"] == FORMAT_VERSION
    assert meta["shuffle_order"] == "framework" and meta["bn_eps"] == "1e-05"
    assert json.loads(meta["model_config"])["base"]["depth"] == 18
    assert meta["model_config"] == model_config_json(R18)
    assert json.loads(meta["note"]) == {"x": [1, 2]} and meta["seed"] == "1"
    assert "feature_channels" not in meta
    assert [p.name for p in tmp_path.iterdir()] == sorted(["a.safetensors", "b.safetensors"])


def test_model_config_json_round_trips_through_the_config_loader():
    from enhancenet_core.canonical import model_config_from_json

    cfg = replace(R18, head=replace(R18.head, shuffle_order=ShuffleOrder.PAPER))
    assert model_config_from_json(model_config_json(cfg)) == cfg


def test_head_alone_file_records_feature_channels(tmp_path):
    path = tmp_path / "h.safetensors"
    save_canonical_arrays(path, _arrays(HEAD, feature_channels=FC), HEAD, feature_channels=FC)
    assert read_canonical_metadata(path)["feature_channels"] == str(FC)
    with pytest.raises(ValueError, match=r"wrong shape enhance\.convs\.0\.weight: expected \(8, 8, 1, 1\), found \(8, 7, 1, 1\)"):
        load_canonical_arrays(path, HEAD, feature_channels=FC + 1)


def test_every_problem_in_one_message_and_the_old_file_kept(tmp_path):
    path = tmp_path / "w.safetensors"
    save_canonical_arrays(path, _arrays(HEAD, feature_channels=FC), HEAD, feature_channels=FC)
    before = path.read_bytes()
    bad = _arrays(HEAD, feature_channels=FC)
    del bad["enhance.convs.0.bias"]
    bad["enhance.convs.1.weight"] = np.zeros((8, 8, 5, 5), np.float32)
    bad["enhance.upsample.bias"] = np.zeros(12, np.int32)
    bad["enhance.extra.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError) as info:
        save_canonical_arrays(path, bad, HEAD, feature_channels=FC)
    msg = str(info.value)
    assert "4 tensor(s) do not fit the model" in msg
    assert "missing enhance.convs.0.bias: expected shape (8,), found nothing" in msg
    assert "wrong shape enhance.convs.1.weight: expected (8, 8, 3, 3), found (8, 8, 5, 5)" in msg
    assert "wrong dtype enhance.upsample.bias: expected a floating-point tensor, found int32" in msg
    assert "unexpected enhance.extra.weight: expected nothing, found shape (2, 2)" in msg
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
    # the same problems on load, from a file written without checks
    save_safetensors(path, bad, canonical_header(HEAD, feature_channels=FC))
    with pytest.raises(ValueError, match=r"4 tensor\(s\)"):
        load_canonical_arrays(path, HEAD, feature_channels=FC)


def test_header_errors(tmp_path):
    arrays = _arrays(HEAD, feature_channels=FC)
    with pytest.raises(ValueError, match="'format_version' is reserved"):
        canonical_header(HEAD, {"format_version": "2"})
    plain = tmp_path / "plain.safetensors"
    save_safetensors(plain, arrays)
    with pytest.raises(ValueError, match="metadata 'format' is None"):
        load_canonical_arrays(plain, HEAD, feature_channels=FC)
    future = tmp_path / "future.safetensors"
    save_safetensors(future, arrays, {**canonical_header(HEAD, feature_channels=FC), "format_version": "2"})
    with pytest.raises(ValueError, match="format_version '2' is not supported"):
        load_canonical_arrays(future, HEAD, feature_channels=FC)


def test_another_base_model_is_said_first(tmp_path):
    hg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=1, hourglass_channels=16),
                     head=R18.head, num_keypoints=3)
    path = tmp_path / "hg.safetensors"
    save_canonical_arrays(path, _arrays(hg), hg)
    with pytest.raises(ValueError, match=r"holds a 'hourglass' model, the config builds 'simple_baseline'; \d+ tensor"):
        load_canonical_arrays(path, R18)


def test_shuffle_order_conversion_gives_the_same_hr_maps(tmp_path):
    """A paper-order file loaded for a framework-order config: conv output shuffled in each order is equal."""
    paper = replace(HEAD, head=replace(HEAD.head, shuffle_order=ShuffleOrder.PAPER))
    arrays = _arrays(paper, 2, feature_channels=FC)
    path = tmp_path / "paper.safetensors"
    save_canonical_arrays(path, arrays, paper, feature_channels=FC)
    assert read_canonical_metadata(path)["shuffle_order"] == "paper"
    fw = load_canonical_arrays(path, HEAD, feature_channels=FC)
    kept = load_canonical_arrays(path, HEAD, ShuffleOrder.PAPER, feature_channels=FC)
    assert np.array_equal(kept["enhance.upsample.weight"], arrays["enhance.upsample.weight"])
    # a 1x1 "conv" of the upsample weight's centre tap on random features, then PS in each order
    x = np.random.default_rng(3).standard_normal((1, 8, 5, 4))

    def hr(p, order):
        w, b = p["enhance.upsample.weight"][:, :, 1, 1], p["enhance.upsample.bias"]
        y = np.einsum("oc,nchw->nohw", w, x) + b[None, :, None, None]
        return pixel_shuffle(y, 2, order)

    assert not np.array_equal(fw["enhance.upsample.weight"], arrays["enhance.upsample.weight"])
    np.testing.assert_allclose(hr(fw, ShuffleOrder.FRAMEWORK), hr(arrays, ShuffleOrder.PAPER), rtol=0, atol=1e-12)
    back, cfg = reorder_subpixel(fw, HEAD, ShuffleOrder.PAPER)
    assert cfg.head.shuffle_order is ShuffleOrder.PAPER
    assert all(np.array_equal(back[k], arrays[k]) for k in arrays)
    assert convert_shuffle_order(arrays, replace(HEAD, head=replace(HEAD.head, enabled=False)), "paper",
                                 "framework")["enhance.upsample.weight"] is arrays["enhance.upsample.weight"]
    with pytest.raises(ValueError, match="no sub-pixel EnhanceNet head"):
        reorder_subpixel(arrays, replace(HEAD, head=replace(HEAD.head, upsampler="deconv")), ShuffleOrder.PAPER)


def test_expected_shapes_checks_a_framework_model_and_covers_cpn():
    want = expected_shapes(R18)
    assert want == {k: s.shape for k, s in parameter_specs(R18).items()}
    wrong = dict(want)
    wrong["final_layer.weight"] = (3, 16, 3, 3)
    with pytest.raises(ValueError, match=r"does not match its config's canonical name map(?s:.*)wrong shape final_layer\.weight"):
        expected_shapes(R18, model_shapes=wrong)
    cpn = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), head=R18.head, num_keypoints=3)
    with pytest.raises(ValueError, match="cpn"):
        expected_shapes(cpn)
    head = {k: s.shape for k, s in parameter_specs(cpn, 256).items()}
    own = {"global_net.x.weight": (3, 3, 1, 1), **head}
    assert expected_shapes(cpn, model_shapes=own) == own
    own["enhance.upsample.bias"] = (5,)
    with pytest.raises(ValueError, match=r"wrong shape enhance\.upsample\.bias"):
        expected_shapes(cpn, model_shapes=own)


def test_check_tensors_takes_shapes_from_any_tensor_type():
    class FakeDtype:
        is_floating_point = False

    class Fake:
        shape = (2,)
        dtype = FakeDtype()

    with pytest.raises(ValueError, match=r"(?s)src: 1 tensor\(s\).*wrong dtype a: expected a floating-point tensor"):
        check_tensors({"a": Fake()}, {"a": (2,)}, "src")
    check_tensors({"a": np.zeros(2, np.float16)}, {"a": (2,)}, "src")  # float16 is floating point


def test_backbone_prefixes_cover_the_imagenet_backbones_only():
    from enhancenet_core.canonical import backbone_prefixes

    resnet = backbone_prefixes(R18)
    assert "layer4." in resnet and not any(p.startswith(("fc", "deconv", "final")) for p in resnet)
    hrnet = backbone_prefixes(ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=32)))
    assert {"stage4.", "transition3.", "conv2."} <= set(hrnet) and "final_layer." not in hrnet
    with pytest.raises(ValueError, match=r"model\.base\.pretrained: .* not for 'hourglass'"):
        backbone_prefixes(ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS)))


def test_pretrained_scope_base_adds_the_rest_of_the_base_model_never_the_head():
    from dataclasses import replace

    from enhancenet_core.canonical import backbone_prefixes
    from enhancenet_core.config import load_config, shipped_config_path
    from enhancenet_core.conventions import PretrainedScope
    from enhancenet_core.namemap import parameter_specs

    cfg = load_config(shipped_config_path("synthetic_quick"), ["model.base.pretrained_scope=base"]).model
    assert cfg.base.pretrained_scope is PretrainedScope.BASE
    prefixes = backbone_prefixes(cfg)
    names = list(parameter_specs(cfg))
    loaded = [n for n in names if n.startswith(prefixes)]
    assert loaded and all(not n.startswith("enhance.") for n in loaded)
    assert {n for n in names if not n.startswith("enhance.")} == set(loaded)  # every base tensor, no head tensor
    backbone = backbone_prefixes(replace(cfg, base=replace(cfg.base, pretrained_scope=PretrainedScope.BACKBONE)))
    assert set(backbone) < set(prefixes) and not any(p.startswith(("deconv", "final")) for p in backbone)
    cpn = replace(cfg, base=replace(cfg.base, name=BaseModelName.CPN))
    assert backbone_prefixes(cpn) == ("",)  # the whole CPN (trunk, GlobalNet, RefineNet), loaded into base
    hourglass = replace(cfg, base=replace(cfg.base, name=BaseModelName.HOURGLASS))
    assert backbone_prefixes(hourglass) == ("",)  # a whole pretrained hourglass (no ImageNet backbone)
    with pytest.raises(ValueError, match=r"model\.base\.pretrained: ImageNet weights .* not for 'hourglass'"):
        backbone_prefixes(replace(hourglass, base=replace(hourglass.base, pretrained_scope=PretrainedScope.BACKBONE)))
    # the AE hourglass: a whole pretrained AE network (every tensor of its base model), never an ImageNet backbone
    ae = load_config(shipped_config_path("coco_ae_hourglass4_512x512_enhancenet"),
                     ["model.base.pretrained_scope=base", "model.base.stages=1"]).model
    assert backbone_prefixes(ae) == ("",)
    with pytest.raises(ValueError, match=r"ImageNet weights .* not for 'ae_hourglass'"):
        backbone_prefixes(replace(ae, base=replace(ae.base, pretrained_scope=PretrainedScope.BACKBONE)))


def test_pretrained_on_trunk_only_for_cpn_imagenet_weights():
    from dataclasses import replace

    from enhancenet_core.canonical import pretrained_on_trunk
    from enhancenet_core.conventions import PretrainedScope

    cpn = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), head=R18.head, num_keypoints=3)
    assert pretrained_on_trunk(cpn)
    assert not pretrained_on_trunk(replace(cpn, base=replace(cpn.base, pretrained_scope=PretrainedScope.BASE)))
    assert not pretrained_on_trunk(R18)


def test_pretrained_scope_is_validated_by_the_config():
    from enhancenet_core.config import ConfigError, load_config, shipped_config_path

    with pytest.raises(ConfigError, match=r"model\.base\.pretrained_scope"):
        load_config(shipped_config_path("synthetic_quick"), ["model.base.pretrained_scope=everything"])
