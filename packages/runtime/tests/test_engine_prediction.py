"""enhancenet_runtime.engine.prediction: the one prediction path (flip-test hooks, the batch loop, boxes in an
image) with a NumPy "network" whose output is known, so the expected numbers do not come from the code under test."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.codecs import heatmap_codecs
from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_runtime.engine.prediction import BoxPredictions, infer_maps, predict_boxes, predict_dataset

K = 5


def _cfg(*extra: str):
    return load_config(shipped_config_path("synthetic_quick"), [
        f"model.num_keypoints={K}", "loss.ohkm_topk=4", "data.flip_pairs=[[1,2],[3,4]]", "model.input_size=[32,32]",
        *extra,
    ])  # fmt: skip


class PeakNet:
    """A network that puts one Gaussian per keypoint at fixed patch coordinates (through the codecs' encoders),
    and counts its calls; on a mirrored batch it puts them where the mirrored joints are, pairs swapped."""

    def __init__(self, cfg, joints: np.ndarray) -> None:
        self.codecs, self.joints, self.calls = heatmap_codecs(cfg), joints, []

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        mirrored = bool(images[0, 0, 0, 0] < 0)  # the test images carry -1 in their first column, 1 in the last
        self.calls.append(mirrored)
        joints = self.joints
        if mirrored:
            joints = joints.copy()[:, [0, 2, 1, 4, 3]]
            joints[..., 0] = 31 - joints[..., 0]
        n = images.shape[0]
        batch = np.repeat(joints, n, axis=0)
        return {key: self.codecs.of(key).encode(batch, np.ones(batch.shape[:2]))[0] for key in ("lr", "hr")}


def _images(n: int) -> np.ndarray:
    x = np.zeros((n, 3, 32, 32), np.float32)
    x[..., 0], x[..., -1] = 1.0, -1.0
    return x


JOINTS = np.array([[[10.0, 12.0], [6.0, 20.0], [25.0, 20.0], [4.0, 8.0], [28.0, 8.0]]])


def test_infer_maps_runs_the_flipped_pass_only_with_flip_test() -> None:
    cfg = _cfg("test.flip_test=false")
    net = PeakNet(cfg, JOINTS)
    maps = infer_maps(net, _images(2), cfg, flip=lambda x: x[..., ::-1])
    assert net.calls == [False] and sorted(maps) == ["hr", "lr"] and maps["lr"].dtype == np.float32
    cfg = _cfg("test.flip_test=true", "target.convention=unbiased")  # unbiased: the mirrored maps realign exactly
    net = PeakNet(cfg, JOINTS)
    merged = infer_maps(net, _images(2), cfg, flip=lambda x: x[..., ::-1])
    assert net.calls == [False, True]
    direct = PeakNet(cfg, JOINTS)(_images(2))
    for key in ("lr", "hr"):  # an ideal network: the flipped pass flipped back is the direct pass
        np.testing.assert_allclose(merged[key], direct[key], atol=1e-6)


def test_predict_dataset_decodes_every_batch_to_image_pixels() -> None:
    cfg = _cfg("test.flip_test=false")
    net = PeakNet(cfg, JOINTS)
    # crops of 32 x 32 px centred on (100, 50), scale 32/200: image = patch + (84, 34)
    meta = [{"center": np.array([[100.0, 50.0]] * n), "scale": np.full((n, 2), 32 / 200), "index": np.arange(n),
             "image_id": np.arange(n), "score": np.ones(n), "area": np.ones(n)} for n in (2, 1, 3)]
    batches = [(_images(len(m["index"])), m) for m in meta]
    pred = predict_dataset(iter(batches), lambda x: infer_maps(net, x, cfg, flip=lambda y: y), cfg, total=3,
                           progress=False)
    assert pred["preds"].shape == (6, K, 3) and pred["preds_lr"].shape == (6, K, 3)
    want = JOINTS[0] + [84.0, 34.0]
    assert np.abs(pred["preds"][..., :2] - want).max() <= 0.5  # M^HR (stride 1 at r = 4): within half a pixel
    assert np.abs(pred["preds_lr"][..., :2] - want).max() <= 2.0  # M^LR (stride 4): within half a stride
    short = predict_dataset(iter(batches), lambda x: infer_maps(net, x, cfg, flip=lambda y: y), cfg,
                            progress=False, max_batches=2)
    assert short["preds"].shape[0] == 3
    with pytest.raises(ValueError, match="no instances to evaluate"):
        predict_dataset(iter(()), lambda x: {}, cfg, total=0, progress=False)


def test_predict_boxes_one_return_type() -> None:
    cfg = _cfg("test.flip_test=false")
    net = PeakNet(cfg, JOINTS)
    image = np.zeros((80, 120, 3), np.uint8)
    res = predict_boxes(image, np.array([[40.0, 20.0, 32.0, 32.0]]), cfg, lambda x: net(_images(len(x))))
    assert isinstance(res, BoxPredictions) and sorted(res.preds) == sorted(res.maps) == ["hr", "lr"]
    assert res.patches.shape == (1, 32, 32, 3) and res.center.shape == res.scale.shape == (1, 2)
    assert res.preds["hr"].shape == (1, K, 3) and res.maps["hr"].shape == (1, K, 32, 32)
    # the box is enlarged by bbox_scale around its centre (56, 36); patch pixel x sits at centre + (x - 16) * zoom
    zoom = res.scale[0, 0] * cfg.data.pixel_std / 32
    want = res.center[0] + (JOINTS[0] - 16.0) * zoom
    assert np.abs(res.preds["hr"][0, :, :2] - want).max() <= 0.5 * zoom + 1e-6
