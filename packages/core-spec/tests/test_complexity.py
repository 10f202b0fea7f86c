"""Head complexity against the paper's Table 5 (b), (c), (d) and the deconvolution padding rule.

The expected #Params (M, 2 decimals) and GFLOPs (2 decimals) are typed from the paper's tables
(SimpleBaseline ResNet-50, F^LR 256 channels, K = 17, M^LR 64x48); they do not come from this code.
"""

from __future__ import annotations

import dataclasses

import pytest

from enhancenet_core.complexity import (
    HeadComplexity,
    deconv_padding,
    feature_channels,
    format_complexity_table,
    head_complexity,
)
from enhancenet_core.config import BaseModelConfig, Config, ModelConfig, override
from enhancenet_core.conventions import BaseModelName, HeadInput, Upsampler

F_SIMPLE_BASELINE = 256


def _model(**head_fields: object) -> ModelConfig:
    """SimpleBaseline-R50 on COCO 256x192 (M^LR 64x48, K=17) with the paper's head, fields overridden."""
    cfg = Config()
    sets = [f"model.head.{k}={v.value if hasattr(v, 'value') else v}" for k, v in head_fields.items()]
    return override(cfg, sets).model if sets else cfg.model


def _count(model: ModelConfig) -> HeadComplexity:
    return head_complexity(model, F_SIMPLE_BASELINE)


def test_setup_matches_table5() -> None:
    model = _model()
    assert model.heatmap_size == (48, 64)  # (width, height): 64x48 maps
    assert model.num_keypoints == 17
    assert feature_channels(model.base) == 256


# Table 5b: channels C (sub-pixel, k3, r=4).
@pytest.mark.parametrize(("channels", "params_m", "gflops"), [(64, 0.21, 0.65), (128, 0.50, 1.52), (256, 1.29, 3.95)])
def test_table5b_channels(channels: int, params_m: float, gflops: float) -> None:
    hc = _count(_model(channels=channels))
    assert round(hc.params_m, 2) == pytest.approx(params_m)
    assert round(hc.gflops, 2) == pytest.approx(gflops)


# Table 5c: upscaling layer (C=128, r=4). Cin 128; Cout 17 for deconv / bilinear+conv, 272 for sub-pixel.
@pytest.mark.parametrize(
    ("upsampler", "kernel", "cout", "params_m", "gflops"),
    [
        (Upsampler.BILINEAR_CONV, 3, 17, 0.20, 1.52),
        (Upsampler.DECONV, 3, 17, 0.20, 1.52),
        (Upsampler.DECONV, 12, 17, 0.50, 15.96),
        (Upsampler.SUBPIXEL, 3, 272, 0.50, 1.52),
    ],
)
def test_table5c_upsamplers(upsampler: Upsampler, kernel: int, cout: int, params_m: float, gflops: float) -> None:
    hc = _count(_model(upsampler=upsampler, upsampler_kernel=kernel))
    weighted = [row for row in hc.rows if row.params > 0]
    last = weighted[-1]
    assert (last.in_channels, last.out_channels, last.kernel) == (128, cout, kernel)
    assert round(hc.params_m, 2) == pytest.approx(params_m)
    assert round(hc.gflops, 2) == pytest.approx(gflops)
    # every variant ends at M^HR: r*H x r*W with K channels
    assert hc.rows[-1].output_size == (192, 256)
    assert hc.rows[-1].out_channels == 17


# Table 5d: upscaling ratio r (C=128, sub-pixel k3).
@pytest.mark.parametrize(
    ("r", "params_m", "gflops"), [(2, 0.26, 0.80), (3, 0.36, 1.10), (4, 0.50, 1.52), (5, 0.67, 2.06)]
)
def test_table5d_upscale(r: int, params_m: float, gflops: float) -> None:
    hc = _count(_model(upscale=r))
    assert round(hc.params_m, 2) == pytest.approx(params_m)
    assert round(hc.gflops, 2) == pytest.approx(gflops)
    assert hc.hr_size == (48 * r, 64 * r)


def test_section_3_3_relations() -> None:
    """Sec. 3.3: sub-pixel (k) and deconv (k*r) have equal P; deconv costs r^2 times; bilinear+conv has P/r^2."""
    r = 4
    sub = _count(_model(upsampler=Upsampler.SUBPIXEL, upsampler_kernel=3, upscale=r))
    dec = _count(_model(upsampler=Upsampler.DECONV, upsampler_kernel=3 * r, upscale=r))
    bil = _count(_model(upsampler=Upsampler.BILINEAR_CONV, upsampler_kernel=3, upscale=r))
    sub_last = next(row for row in sub.rows if row.name == "conv3")
    dec_last = next(row for row in dec.rows if row.kind == "deconv")
    bil_last = next(row for row in bil.rows if row.name == "conv3")
    assert sub_last.params == dec_last.params
    assert dec_last.flops == r * r * sub_last.flops
    assert bil_last.params * r * r == sub_last.params
    assert bil_last.flops == sub_last.flops
    # parameter-free layers cost nothing
    for hc in (sub, bil):
        assert all(row.flops == 0 and row.params == 0 for row in hc.rows if row.kind in ("bilinear", "pixel_shuffle"))


def test_layer_count_and_conv_formula() -> None:
    """L=4: conv1 1x1, conv2 and conv3 3x3, conv4 sub-pixel; each conv costs H*W*Cin*Cout*k*k."""
    hc = _count(_model(num_layers=4, channels=64))
    names = [row.name for row in hc.rows]
    assert names == ["conv1", "conv2", "conv3", "conv4", "pixel_shuffle"]
    conv1 = hc.rows[0]
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel) == (273, 64, 1)
    assert conv1.flops == 48 * 64 * 273 * 64
    assert hc.rows[1].params == 64 * 64 * 9
    assert hc.params_with_bias - hc.params == 64 + 64 + 64 + 17 * 16


@pytest.mark.parametrize(("inputs", "cin"), [(HeadInput.BOTH, 273), (HeadInput.FEATURES, 256), (HeadInput.HEATMAPS, 17)])
def test_head_inputs(inputs: HeadInput, cin: int) -> None:
    hc = _count(_model(inputs=inputs))
    assert hc.input_channels == cin
    assert hc.rows[0].in_channels == cin


def test_disabled_head_adds_nothing() -> None:
    hc = _count(_model(enabled=False))
    assert hc.rows == ()
    assert hc.params == 0 and hc.flops == 0


def test_bad_feature_channels() -> None:
    with pytest.raises(ValueError, match="feature_channels"):
        head_complexity(_model(), 0)


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        (BaseModelName.SIMPLE_BASELINE, {}, 256),
        (BaseModelName.SIMPLE_BASELINE, {"deconv_channels": 128}, 128),
        (BaseModelName.HRNET, {"width": 32}, 32),
        (BaseModelName.HRNET, {"width": 48}, 48),
        (BaseModelName.HOURGLASS, {}, 256),
        (BaseModelName.CPN, {}, 256),
    ],
)
def test_feature_channels(name: BaseModelName, changes: dict[str, int], expected: int) -> None:
    assert feature_channels(dataclasses.replace(BaseModelConfig(name=name), **changes)) == expected


def test_table_format_has_rows_and_totals() -> None:
    text = format_complexity_table(_count(_model()), "title")
    assert text.splitlines()[0] == "title"
    assert "conv3" in text and "pixel_shuffle" in text
    total = next(line for line in text.splitlines() if line.startswith("total"))
    assert "0.50M" in total and "1.52" in total


def test_to_dict_is_json_ready() -> None:
    import json

    d = json.loads(json.dumps(_count(_model()).to_dict()))
    assert round(d["total"]["gflops"], 2) == 1.52
    assert [row["name"] for row in d["rows"]] == ["conv1", "conv2", "conv3", "pixel_shuffle"]


# --- deconv_padding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "r", "expected"), [(4, 2, (1, 0)), (3, 2, (1, 1)), (2, 2, (0, 0)), (3, 4, (0, 1)),
                                                  (12, 4, (4, 0)), (1, 1, (0, 0)), (3, 1, (1, 0))])
def test_deconv_padding_known(k: int, r: int, expected: tuple[int, int]) -> None:
    # (4, 2) -> padding 1, output_padding 0 is SimpleBaseline's deconv (HRNet's _get_deconv_cfg).
    assert deconv_padding(k, r) == expected


@pytest.mark.parametrize("r", range(1, 7))
@pytest.mark.parametrize("k", range(1, 17))
def test_deconv_padding_output_is_r_times_input(k: int, r: int) -> None:
    """Transposed-conv output size (H-1)*r - 2p + k + op must equal r*H, with p >= 0 and 0 <= op < r."""
    if r == 1 and k % 2 == 0:
        with pytest.raises(ValueError, match=f"kernel {k} and stride 1"):
            deconv_padding(k, r)
        return
    p, op = deconv_padding(k, r)
    assert p >= 0 and 0 <= op < r
    if k >= r - 1:  # the paper-style rule p = ceil((k - r) / 2), op = 2p - (k - r)
        assert p == -((r - k) // 2)
    for h in (1, 5, 48, 64):
        assert (h - 1) * r - 2 * p + k + op == r * h


@pytest.mark.parametrize(("k", "r"), [(0, 2), (3, 0), (-1, 2), (2, 1), (True, 2)])
def test_deconv_padding_rejects(k: int, r: int) -> None:
    with pytest.raises(ValueError, match="deconv_padding"):
        deconv_padding(k, r)
