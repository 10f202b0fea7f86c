"""enhancenet-convert front end: canonical -> torch -> canonical bit-exact, refusals with clear errors.

Needs enhancenet-torch in this interpreter (the dev virtualenv); skipped, with the reason, elsewhere.
Cross-framework conversion (torch <-> paddle) is tested by the conformance suite, which has both venvs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder
from enhancenet_runtime.convert import ConvertError, convert_weights, format_of, main, read_canonical_header

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("enhancenet_torch") is None or importlib.util.find_spec("enhancenet_numpy") is None,
    reason="enhancenet-torch and enhancenet-numpy are not installed in this interpreter",
)
CFG = ModelConfig(
    base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=1, hourglass_channels=16),
    head=EnhanceNetConfig(channels=8, upscale=2, shuffle_order=ShuffleOrder.PAPER),
    num_keypoints=3,
    input_size=(64, 64),
)


def _canonical(path: Path, cfg: ModelConfig = CFG, seed: int = 3) -> dict[str, np.ndarray]:
    from enhancenet_numpy.weights import init_weights, save_weights

    params = init_weights(cfg, seed, np.float32)
    save_weights(path, params, cfg)
    return params


def test_formats_and_header(tmp_path: Path) -> None:
    assert format_of("a.pth") == "torch" and format_of("b.pdparams") == "paddle" and format_of("c.safetensors") == "canonical"
    with pytest.raises(ConvertError, match=r"unknown weight format '\.bin'"):
        format_of("x.bin")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x05\x00")
    with pytest.raises(ConvertError, match="not a readable safetensors file"):
        read_canonical_header(bad)


@needs_torch
@pytest.mark.slow
def test_canonical_torch_canonical_is_bit_exact(tmp_path: Path) -> None:
    from enhancenet_numpy.weights import load_weights

    params = _canonical(tmp_path / "a.safetensors")
    res = convert_weights(tmp_path / "a.safetensors", tmp_path / "m.pt")  # config from the header
    assert res.steps == ("torch: a.safetensors -> m.pt",)
    assert main([str(tmp_path / "m.pt"), str(tmp_path / "b.safetensors")]) == 2  # a pickle: only when trusted
    assert not (tmp_path / "b.safetensors").exists()
    assert main([str(tmp_path / "m.pt"), str(tmp_path / "b.safetensors"), "--verify", "--trust-pickle"]) == 0
    back = load_weights(tmp_path / "b.safetensors", CFG)
    assert list(back) == list(params)
    for name, value in params.items():
        assert back[name].dtype == value.dtype and np.array_equal(back[name], value), name
    assert read_canonical_header(tmp_path / "b.safetensors")["shuffle_order"] == "paper"


@needs_torch
@pytest.mark.slow
def test_verify_reports_max_difference(tmp_path: Path) -> None:
    _canonical(tmp_path / "a.safetensors")
    res = convert_weights(tmp_path / "a.safetensors", tmp_path / "m.pt", verify=True)
    assert set(res.max_abs_diff) == {"lr", "hr"}
    assert max(res.max_abs_diff.values()) == 0.0  # the same framework on the same weights and input


@needs_torch
def test_refuses_architecture_and_shape_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    _canonical(tmp_path / "a.safetensors")
    other = dataclasses.replace(CFG, num_keypoints=4)
    from enhancenet_numpy.weights import save_weights

    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(
        "data: {dataset: synthetic, flip_pairs: [[0, 1]]}\nloss: {ohkm_topk: 4}\nmodel:\n  num_keypoints: 4\n  input_size: [64, 64]\n  base: {name: hourglass, stages: 1, hourglass_channels: 16}\n"
        "  head: {channels: 8, upscale: 2, shuffle_order: paper}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConvertError, match=r"wrong shape.*score\.0\.weight|score\.0\.weight.*expected"):
        convert_weights(tmp_path / "a.safetensors", tmp_path / "x.pt", config=cfg_file)
    assert not (tmp_path / "x.pt").exists()
    sb = ModelConfig(base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), num_keypoints=4,
                     head=other.head, input_size=(64, 64))
    from enhancenet_numpy.weights import init_weights

    save_weights(tmp_path / "sb.safetensors", init_weights(sb, 0, np.float32), sb)
    assert main([str(tmp_path / "sb.safetensors"), str(tmp_path / "y.pt"), "--config", str(cfg_file)]) == 2
    err = capsys.readouterr().err
    assert "simple_baseline" in err and "hourglass" in err
    assert not (tmp_path / "y.pt").exists()
    with pytest.raises(ConvertError, match="not found"):
        convert_weights(tmp_path / "missing.safetensors", tmp_path / "z.pt")


@pytest.mark.skipif(importlib.util.find_spec("enhancenet_mindspore") is not None,
                    reason="enhancenet-mindspore is installed here: the missing-back-end message cannot be provoked")
def test_ckpt_needs_an_interpreter_with_the_mindspore_back_end(tmp_path: Path) -> None:
    """A .ckpt end runs ``python -m enhancenet_mindspore.convert`` with ``--mindspore-python`` (default: this
    interpreter); without the back end the error says which flag to pass, and nothing is written."""
    assert format_of("w.ckpt") == "mindspore"
    src = tmp_path / "a.safetensors"
    _front_end_file(src)  # a valid file: the front end checks it before any back end runs
    with pytest.raises(ConvertError, match=r"enhancenet_mindspore is not installed for .*pass --mindspore-python"):
        convert_weights(src, tmp_path / "m.ckpt", config=CFG)
    assert not (tmp_path / "m.ckpt").exists()


def _canonical_with(path: Path, params: dict[str, np.ndarray], model_config: str) -> None:
    """A canonical file written without the writer's checks (as a damaged or hostile file would be)."""
    from enhancenet_core.canonical import canonical_header
    from enhancenet_core.safetensors_io import save_safetensors

    header = canonical_header(CFG)
    header["model_config"] = model_config
    save_safetensors(path, params, header)


@needs_torch
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          bad: float) -> None:
    from enhancenet_core.canonical import canonical_header

    params = _canonical(tmp_path / "ok.safetensors")
    name = sorted(params)[len(params) // 2]
    params[name] = params[name].copy()
    params[name].flat[0] = bad
    _canonical_with(tmp_path / "bad.safetensors", params, canonical_header(CFG)["model_config"])
    dst = tmp_path / "m.pt"
    dst.write_bytes(b"previous")
    assert main([str(tmp_path / "bad.safetensors"), str(dst)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and name in err and "finite" in err, err
    assert dst.read_bytes() == b"previous"


@needs_torch
def test_damaged_model_config_header_is_refused_even_with_config(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    params = _canonical(tmp_path / "ok.safetensors")
    src = tmp_path / "damaged.safetensors"
    _canonical_with(src, params, '{"base": {"name": "hourglass", "stages": ')
    with pytest.raises(ConvertError, match=r"damaged\.safetensors header model_config"):
        convert_weights(src, tmp_path / "m.pt", config=CFG)
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(
        "data: {dataset: synthetic, flip_pairs: [[0, 1]]}\nloss: {ohkm_topk: 3}\nmodel:\n  num_keypoints: 3\n"
        "  input_size: [64, 64]\n  base: {name: hourglass, stages: 1, hourglass_channels: 16}\n"
        "  head: {channels: 8, upscale: 2, shuffle_order: paper}\n",
        encoding="utf-8",
    )
    assert main([str(src), str(tmp_path / "m.pt"), "--config", str(cfg_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged.safetensors" in err and "model_config" in err, err
    assert not (tmp_path / "m.pt").exists()


def _front_end_file(path: Path, nan: bool = False, model_config: str | None = None) -> None:
    """A small canonical file written with the spec alone (no back end needed: these are refused before one runs)."""
    from enhancenet_core.canonical import model_config_json
    from enhancenet_core.safetensors_io import safetensors_bytes

    w = np.ones((4, 2), np.float32)
    if nan:
        w[1, 1] = np.nan
    meta = {"model_config": model_config_json(CFG) if model_config is None else model_config}
    path.write_bytes(safetensors_bytes({"head.w": w}, meta))


def test_front_end_refuses_non_finite_weights_and_corrupt_records(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / "out.pt"
    dst.write_bytes(b"previous")
    _front_end_file(tmp_path / "nan.safetensors", nan=True)
    assert main([str(tmp_path / "nan.safetensors"), str(dst)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'head.w' holds 1 NaN/inf" in err[0]
    # a corrupt model_config record is refused even when --config would replace it
    bad = '{"num_keypoints": 0}'
    _front_end_file(tmp_path / "rec.safetensors", model_config=bad)
    with pytest.raises(ConvertError, match=r"rec\.safetensors header model_config: not a valid model configuration.*num_keypoints"):
        convert_weights(tmp_path / "rec.safetensors", dst, config=CFG)
    assert dst.read_bytes() == b"previous"
