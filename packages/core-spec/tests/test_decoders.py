"""Tests of the heat-map decoders (enhancenet_core.decoders) against HRNet / DarkPose reference loops."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enhancenet_core.conventions import CoordinateConvention, Decoder
from enhancenet_core.decoders import (
    blur_heatmaps,
    decode_heatmaps,
    gaussian_kernel_1d,
    get_final_preds,
    get_max_preds,
    kernel_size_from_sigma,
)
from enhancenet_core.targets import generate_targets
from enhancenet_core.transforms import (
    affine_transform,
    box_to_center_scale,
    get_affine_transform,
    transform_preds,
)

LEGACY = CoordinateConvention.LEGACY
UNBIASED = CoordinateConvention.UNBIASED


# ---------------------------------------------------------------- readable references (per-keypoint loops)
def ref_get_max_preds(hm):
    n, k, _, w = hm.shape
    coords = np.zeros((n, k, 2))
    maxvals = np.zeros((n, k, 1), hm.dtype)
    for i in range(n):
        for j in range(k):
            idx = int(np.argmax(hm[i, j]))
            maxvals[i, j, 0] = hm[i, j].reshape(-1)[idx]
            if maxvals[i, j, 0] > 0:
                coords[i, j] = [idx % w, idx // w]
    return coords, maxvals


def ref_quarter(hm):
    coords, maxvals = ref_get_max_preds(hm)
    h, w = hm.shape[2:]
    for i in range(hm.shape[0]):
        for j in range(hm.shape[1]):
            m = hm[i, j]
            px, py = math.floor(coords[i, j, 0] + 0.5), math.floor(coords[i, j, 1] + 0.5)
            if 1 < px < w - 1 and 1 < py < h - 1:
                diff = np.array([m[py][px + 1] - m[py][px - 1], m[py + 1][px] - m[py - 1][px]])
                coords[i, j] += np.sign(diff) * 0.25
    return coords, maxvals


def ref_dark(hm, kernel):
    """DarkPose: gaussian_blur (cv2, zero border, rescale), log, taylor on a copy."""
    coords, maxvals = ref_get_max_preds(hm)
    hm = hm.astype(np.float64).copy()
    border = (kernel - 1) // 2
    n, k, h, w = hm.shape
    for i in range(n):
        for j in range(k):
            origin_max = np.max(hm[i, j])
            dr = np.zeros((h + 2 * border, w + 2 * border))
            dr[border:-border, border:-border] = hm[i, j].copy()
            dr = cv2.GaussianBlur(dr, (kernel, kernel), 0)
            hm[i, j] = dr[border:-border, border:-border].copy()
            with np.errstate(invalid="ignore", divide="ignore"):  # all-zero maps: DarkPose divides 0/0
                hm[i, j] *= origin_max / np.max(hm[i, j])
    hm = np.log(np.maximum(hm, 1e-10))
    for i in range(n):
        for j in range(k):
            m = hm[i, j]
            px, py = int(coords[i, j, 0]), int(coords[i, j, 1])
            if 1 < px < w - 2 and 1 < py < h - 2:
                dx = 0.5 * (m[py][px + 1] - m[py][px - 1])
                dy = 0.5 * (m[py + 1][px] - m[py - 1][px])
                dxx = 0.25 * (m[py][px + 2] - 2 * m[py][px] + m[py][px - 2])
                dxy = 0.25 * (m[py + 1][px + 1] - m[py - 1][px + 1] - m[py + 1][px - 1] + m[py - 1][px - 1])
                dyy = 0.25 * (m[py + 2][px] - 2 * m[py][px] + m[py - 2][px])
                if dxx * dyy - dxy**2 != 0:
                    hess = np.array([[dxx, dxy], [dxy, dyy]])
                    coords[i, j] += -np.linalg.inv(hess) @ np.array([dx, dy])
    return coords, maxvals


def _random_maps(rng, n, k, h, w, sigma):
    """Noisy multi-blob maps like network outputs (some negative, some flat)."""
    joints = np.stack([rng.uniform(-8, w * 4 + 8, (n, k)), rng.uniform(-8, h * 4 + 8, (n, k))], -1)
    t, _ = generate_targets(joints, np.ones((n, k)), (w * 4, h * 4), (w, h), sigma, UNBIASED)
    t = t + 0.05 * rng.normal(size=t.shape).astype(np.float32)
    t[0, 0] = 0.0  # all-zero map
    t[0, 1] = -np.abs(t[0, 1])  # max <= 0
    return t


# ---------------------------------------------------------------- kernels
@pytest.mark.parametrize("ksize", [1, 3, 5, 7, 11, 25, 51])
def test_kernel_matches_cv2(ksize: int) -> None:
    np.testing.assert_allclose(gaussian_kernel_1d(ksize), cv2.getGaussianKernel(ksize, 0)[:, 0], rtol=1e-12, atol=0)


def test_kernel_9_follows_opencv4_formula() -> None:
    # OpenCV <= 4 (DarkPose's) has fixed tables for k <= 7 only; OpenCV 5 added one for k = 9. We follow 4.x.
    sig = 0.3 * ((9 - 1) * 0.5 - 1) + 0.8
    g = np.exp(-((np.arange(9) - 4.0) ** 2) / (2 * sig**2))
    np.testing.assert_allclose(gaussian_kernel_1d(9), g / g.sum(), rtol=1e-12)
    if int(cv2.__version__.split(".")[0]) < 5:
        np.testing.assert_allclose(gaussian_kernel_1d(9), cv2.getGaussianKernel(9, 0)[:, 0], rtol=1e-12)


def test_kernel_size_rule() -> None:
    assert kernel_size_from_sigma(2) == 11 and kernel_size_from_sigma(8) == 51
    for k in (11, 21, 51):  # round trip of cv2's own sigma-from-ksize rule
        assert kernel_size_from_sigma(0.3 * ((k - 1) * 0.5 - 1) + 0.8) == k


def test_full_blur_matches_cv2() -> None:
    rng = np.random.default_rng(0)
    hm = rng.normal(size=(1, 2, 20, 15)) + 2
    for ksize in (3, 11):
        pad = (ksize - 1) // 2
        ref = np.stack([
            cv2.GaussianBlur(hm[0, j], (ksize, ksize), 0, borderType=cv2.BORDER_CONSTANT) for j in range(2)
        ])
        ref *= hm[0].max(axis=(1, 2), keepdims=True) / ref.max(axis=(1, 2), keepdims=True)
        np.testing.assert_allclose(blur_heatmaps(hm, ksize)[0], ref, rtol=1e-10, atol=1e-12)
        assert pad >= 1


# ---------------------------------------------------------------- parity with the reference loops
def test_argmax_and_quarter_match_hrnet() -> None:
    rng = np.random.default_rng(1)
    hm = _random_maps(rng, 3, 6, 16, 12, 2.0)
    hm[1, 2, 5, 1] = 9.0  # px = 1: excluded by HRNet's strict 1 < px
    hm[2, 3, 14, 7] = 9.0  # py = H - 2 allowed, py = H - 1 not
    c, m = decode_heatmaps(hm, Decoder.ARGMAX)
    rc, rm = ref_get_max_preds(hm)
    np.testing.assert_array_equal(c, rc)
    np.testing.assert_array_equal(m, rm)
    c, m = decode_heatmaps(hm, Decoder.ARGMAX_QUARTER)
    np.testing.assert_array_equal(c, ref_quarter(hm)[0])
    assert c[1, 2, 0] == 1.0 and c[0, 0].tolist() == [0.0, 0.0] and m[0, 0, 0] == 0.0


@pytest.mark.parametrize(("shape", "sigma"), [((2, 5, 16, 12), 2.0), ((1, 3, 64, 48), 8.0), ((2, 4, 10, 9), 1.0)])
def test_dark_matches_darkpose(shape, sigma) -> None:
    rng = np.random.default_rng(2)
    hm = _random_maps(rng, *shape, sigma)
    before = hm.copy()
    ksize = kernel_size_from_sigma(sigma)
    c, m = decode_heatmaps(hm, Decoder.DARK, sigma=sigma)
    rc, rm = ref_dark(hm, ksize)
    np.testing.assert_array_equal(hm, before)  # input not modified
    np.testing.assert_array_equal(m, rm)
    np.testing.assert_allclose(c, rc, atol=1e-6)
    assert np.any(np.abs(c - np.round(c)) > 1e-3)  # refinement really happened


def test_dark_log_floor_path_matches_darkpose() -> None:
    # A map whose blurred neighbourhood is below 1e-10 (peak surrounded by exact zeros, kernel 3): the
    # floor changes the answer and the exact full-blur path must be taken.
    hm = np.zeros((1, 2, 12, 12), np.float32)
    hm[0, 0, 5, 6] = 1.0
    hm[0, 0, 5, 7] = 1e-12
    hm[0, 1, 6, 6] = 1.0
    hm[0, 1, 6, 5] = 0.5
    for ksize in (3, 5):
        c, _ = decode_heatmaps(hm, Decoder.DARK, dark_kernel=ksize)
        np.testing.assert_allclose(c, ref_dark(hm, ksize)[0], atol=1e-6)


def test_dark_kernel_required() -> None:
    with pytest.raises(ValueError, match="sigma"):
        decode_heatmaps(np.ones((1, 1, 8, 8)), Decoder.DARK)
    with pytest.raises(ValueError, match="odd"):
        decode_heatmaps(np.ones((1, 1, 8, 8)), Decoder.DARK, dark_kernel=4)


# ---------------------------------------------------------------- unbiased round trip
@settings(max_examples=40, deadline=None)
@given(
    fx=st.floats(0.0, 1.0, exclude_max=True), fy=st.floats(0.0, 1.0, exclude_max=True),
    px=st.integers(0, 1000), py=st.integers(0, 1000), hr=st.booleans(),
)
def test_unbiased_encode_decode_recovers_subpixel(fx: float, fy: float, px: int, py: int, hr: bool) -> None:
    if hr:
        size, sigma = (192, 256), 8.0
    else:
        size, sigma = (48, 64), 2.0
    margin = math.ceil(2.5 * sigma)  # documented: nearer the edge the zero-padded blur pulls peaks inward
    x = margin + (px % (size[0] - 2 * margin - 1)) + fx
    y = margin + (py % (size[1] - 2 * margin - 1)) + fy
    inp = np.array([x, y]) * (np.array([191, 255]) / (np.array(size) - 1))  # place at (x, y) on the map
    t, w = generate_targets(inp[None, None], np.ones((1, 1)), (192, 256), size, sigma, UNBIASED)
    assert w[0, 0] == 1
    c, m = decode_heatmaps(t, Decoder.UNBIASED, UNBIASED, sigma=sigma)
    assert np.all(np.abs(c[0, 0] - [x, y]) <= 0.05), (c[0, 0], x, y)
    assert m[0, 0, 0] > 0.5


def test_unbiased_decoder_is_exact_without_blur_bias_in_the_interior() -> None:
    t, _ = generate_targets(np.array([[[90.37, 130.81]]]), np.ones((1, 1)), (192, 256), (48, 64), 2.0, UNBIASED)
    c, _ = decode_heatmaps(t, Decoder.UNBIASED, UNBIASED, sigma=2.0)
    np.testing.assert_allclose(c[0, 0], [90.37 * 47 / 191, 130.81 * 63 / 255], atol=0.01)


# ---------------------------------------------------------------- bad input
def test_bad_heatmaps() -> None:
    hm = np.ones((1, 2, 8, 8), np.float32)
    hm[0, 1, 3, 4] = np.nan
    for dec in Decoder:
        with pytest.raises(ValueError, match="NaN"):
            decode_heatmaps(hm, dec, sigma=2.0)
    with pytest.raises(ValueError, match="ndim"):
        decode_heatmaps(np.ones((2, 8, 8)), Decoder.ARGMAX)
    hm_inf = np.ones((1, 1, 8, 8), np.float32)
    hm_inf[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        decode_heatmaps(hm_inf, Decoder.DARK, sigma=2.0)
    zeros = np.zeros((2, 3, 16, 12), np.float32)
    for dec in Decoder:  # documented: all-zero maps decode to (0, 0) with score 0, as HRNet
        c, m = decode_heatmaps(zeros, dec, sigma=2.0)
        assert not c.any() and not m.any() and np.isfinite(c).all()


# ---------------------------------------------------------------- image coordinates
def test_get_final_preds_matches_hrnet_transform_preds() -> None:
    rng = np.random.default_rng(3)
    hm = _random_maps(rng, 2, 4, 64, 48, 2.0)
    center = np.array([[300.0, 200.0], [120.5, 80.25]])
    scale = np.array([[1.2, 1.6], [0.6, 0.8]])
    preds, _ = get_final_preds(hm, center, scale, Decoder.ARGMAX_QUARTER, LEGACY, (192, 256))
    coords, _ = ref_quarter(hm)
    # HRNet: transform_preds(coords, c, s, heatmap_size) with the inverse affine built for the heat map.
    ref = np.stack([affine_transform(coords[i], get_affine_transform(center[i], scale[i], 0, (48, 64), inv=True))
                    for i in range(2)])
    np.testing.assert_allclose(preds, ref, atol=1e-9)
    np.testing.assert_allclose(transform_preds(coords, center, scale, (48, 64)), ref, atol=1e-9)


@pytest.mark.parametrize("convention", [LEGACY, UNBIASED])
def test_coco_sample_encode_decode(coco_sample_dir: Path, convention: CoordinateConvention) -> None:
    """Real COCO keypoints -> crop -> LR (σ 2) and HR (σ 8) targets -> decode -> image: recovered."""
    data = json.loads((coco_sample_dir / "test_coco.json").read_text())
    anns = [a for a in data["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    kps = np.stack([np.array(a["keypoints"], np.float64).reshape(-1, 3) for a in anns])
    c, s = box_to_center_scale(np.array([a["bbox"] for a in anns]), 192 / 256)
    mats = np.stack([get_affine_transform(c[i], s[i], 0.0, (192, 256)) for i in range(len(anns))])
    patch = affine_transform(kps[..., :2], mats)
    labelled = kps[..., 2] > 0
    # 20 input px = 2.5σ map px on both maps: away from the documented zero-padded-blur border bias
    interior = labelled & np.all((patch >= 20) & (patch <= [191 - 20, 255 - 20]), axis=-1)
    assert interior.sum() > 50
    img_per_patch_px = s[:, 0] * 200 / 192  # (N,)
    for size, sigma in (((48, 64), 2.0), ((192, 256), 8.0)):
        stride = 192 / size[0]
        t, _ = generate_targets(np.where(labelled[..., None], patch, 0), labelled.astype(np.float32), (192, 256),
                                size, sigma, convention)
        decoder = Decoder.UNBIASED if convention is UNBIASED else Decoder.DARK
        preds, maxv = get_final_preds(t, c, s, decoder, convention, (192, 256), sigma=sigma)
        err = np.linalg.norm(preds - kps[..., :2], axis=-1)
        # UNBIASED: sub-pixel exact (0.05 map px); LEGACY: the integer target centre limits it to half a map
        # pixel per axis.
        tol_map_px = 0.05 if convention is UNBIASED else 0.5 * np.sqrt(2) + 1e-3
        tol = (tol_map_px * stride * img_per_patch_px)[:, None]
        assert np.all((err <= tol)[interior]), (size, convention, (err / tol)[interior].max())
        assert np.all(maxv[..., 0][interior] > 0.5)
        if convention is LEGACY:  # and the legacy error is really there (not accidentally exact)
            assert err[interior].max() > 0.1 * tol.min()


# ---------------------------------------------------------------- the fast paths against plain full-map versions
def _full_blur_refine(hm, decoder, ksize):
    """DARK / UNBIASED by the book on the whole batch: full blur (blur_heatmaps), log, Newton step per keypoint."""
    coords, _ = ref_get_max_preds(hm)
    logs = np.log(np.maximum(blur_heatmaps(hm, ksize), 1e-10))
    h, w = hm.shape[2:]
    for i, j in np.ndindex(hm.shape[:2]):
        m, (px, py) = logs[i, j], coords[i, j].astype(int)
        wide = decoder is Decoder.DARK
        if not ((1 < px < w - 2 and 1 < py < h - 2) if wide else (1 <= px <= w - 2 and 1 <= py <= h - 2)):
            continue
        dx, dy = 0.5 * (m[py, px + 1] - m[py, px - 1]), 0.5 * (m[py + 1, px] - m[py - 1, px])
        if wide:
            dxx = 0.25 * (m[py, px + 2] - 2 * m[py, px] + m[py, px - 2])
            dyy = 0.25 * (m[py + 2, px] - 2 * m[py, px] + m[py - 2, px])
        else:
            dxx, dyy = m[py, px + 1] - 2 * m[py, px] + m[py, px - 1], m[py + 1, px] - 2 * m[py, px] + m[py - 1, px]
        dxy = 0.25 * (m[py + 1, px + 1] - m[py - 1, px + 1] - m[py + 1, px - 1] + m[py - 1, px - 1])
        det = dxx * dyy - dxy * dxy
        if (det != 0) if wide else (det > 0 and dxx < 0):
            coords[i, j] -= np.linalg.solve([[dxx, dxy], [dxy, dyy]], [dx, dy])
    if decoder is Decoder.UNBIASED:
        coords = np.clip(coords, 0, [w - 1, h - 1])
    return coords


@pytest.mark.parametrize(("shape", "sigma", "ksize"), [((4, 17, 64, 48), 2.0, 11), ((2, 17, 256, 192), 8.0, 51),
                                                       ((2, 17, 256, 192), 8.0, 11)])
def test_local_blur_equals_full_blur_on_network_like_maps(shape, sigma, ksize) -> None:
    """Only the refined keypoints' patches are blurred (separably, at 5 x 5 points): the same coordinates to 1e-9 px as
    blurring every map in full, on maps shaped like the network's (LR 64x48 σ 2, HR 256x192 σ 8)."""
    rng = np.random.default_rng(7)
    hm = _random_maps(rng, *shape, sigma)
    for decoder in (Decoder.DARK, Decoder.UNBIASED):
        c, _ = decode_heatmaps(hm, decoder, dark_kernel=ksize)
        ref = _full_blur_refine(hm, decoder, ksize)
        np.testing.assert_allclose(c, ref, atol=1e-9, rtol=0)
        assert np.abs(c - np.round(c)).max() > 0.1  # refined


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_every_entry_point_refuses_non_finite_maps_anywhere(bad: float) -> None:
    """The single scan (per-map argmax + a min per block) refuses NaN and +-inf wherever they are: in a later
    block than the first, and away from the map's maximum (a -inf there does not change the argmax)."""
    hm = np.zeros((3, 17, 64, 48), np.float32)  # 51 maps of 12 KiB: one block
    hm[:, :, 30, 20] = 1.0
    hm[2, 16, 63, 47] = bad  # the last value of the last map
    center, scale = np.full((3, 2), 100.0), np.ones((3, 2))
    calls = [lambda: get_max_preds(hm)] + [
        lambda d=d: decode_heatmaps(hm, d, sigma=2.0) for d in Decoder
    ] + [lambda d=d: get_final_preds(hm, center, scale, d, LEGACY, (192, 256), sigma=2.0) for d in Decoder]
    for call in calls:
        with pytest.raises(ValueError, match=r"NaN or infinite values \(first at index \(n, k, y, x\) = \(2, 16, 63, 47\)"):
            call()
    big = np.zeros((2, 17, 256, 192), np.float32)  # 192 KiB maps: blocks of 5 maps
    big[1, 9, 100, 3] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        get_max_preds(big)
    big[1, 9, 100, 3] = 3e38  # large but finite values are accepted (a float32 sum would overflow)
    big[1, 10, 100, 3] = 3e38
    assert get_max_preds(big)[1][1, 9, 0] == np.float32(3e38)
