"""enhancenet_runtime.engine.inference: the framework-free half of ``inference_topdown`` / ``init_model``, with a
NumPy "network" that puts its peaks at known patch coordinates (so expected keypoints come from the crop geometry,
not from the code under test)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from enhancenet_core.codecs import heatmap_codecs
from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_core.transforms import box_to_center_scale, get_affine_transform
from enhancenet_runtime.engine.inference import (
    ChannelOrder,
    PoseResult,
    check_weights_path,
    config_of,
    inference_topdown,
    load_image,
    model_config,
    person_boxes,
)

K = 5
JOINTS = np.array([[10.0, 12.0], [6.0, 20.0], [25.0, 20.0], [4.0, 8.0], [28.0, 8.0]])  # patch pixels (x, y)


def _cfg(*extra: str) -> Config:
    return load_config(shipped_config_path("synthetic_quick"), [
        f"model.num_keypoints={K}", "loss.ohkm_topk=4", "data.flip_pairs=[[1,2],[3,4]]", "model.input_size=[32,32]",
        "test.flip_test=false", "target.convention=unbiased", *extra,
    ])  # fmt: skip


class PeakNet:
    """Peaks at JOINTS (patch pixels) in every crop; records the crops it saw (N, 3, 32, 32)."""

    def __init__(self, cfg: Config) -> None:
        self.codecs, self.seen = heatmap_codecs(cfg), []
        self.keys = ("lr", "hr") if cfg.model.head.enabled else ("lr",)

    def __call__(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        self.seen.append(inputs)
        batch = np.repeat(JOINTS[None], inputs.shape[0], axis=0)
        return {key: self.codecs.of(key).encode(batch, np.ones(batch.shape[:2]))[0] for key in self.keys}


def _expected(box: np.ndarray, cfg: Config) -> np.ndarray:
    """JOINTS in image pixels for a crop of ``box``, through the inverse crop affine (independent of the decoder)."""
    center, scale = box_to_center_scale(box, 1.0, cfg.data.pixel_std, cfg.data.bbox_scale)
    inv = get_affine_transform(center, scale, 0.0, (32, 32), inv=True)
    return JOINTS @ inv[:, :2].T + inv[:, 2]


def _image(h: int = 60, w: int = 80) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 200  # red in RGB
    return img


def test_whole_image_is_the_default_box_and_keypoints_are_image_pixels() -> None:
    cfg = _cfg()
    net = PeakNet(cfg)
    people = inference_topdown(cfg, net, _image())
    assert len(people) == 1 and isinstance(people[0], PoseResult)
    p = people[0]
    assert p.box.tolist() == [0.0, 0.0, 80.0, 60.0] and p.decoded_from == "hr"
    assert p.keypoints.shape == (K, 2) and p.scores.shape == (K,)
    assert np.abs(p.keypoints - _expected(p.box, cfg)).max() < 0.05  # HR, unbiased: sub-pixel exact
    assert p.heatmaps_lr is None and p.heatmaps_hr is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.box = np.zeros(4)  # type: ignore[misc]


def test_boxes_order_maps_on_request_and_lr_only_without_head() -> None:
    cfg = _cfg()
    boxes = [[10, 5, 30, 40], [40, 20, 20, 20]]
    people = inference_topdown(cfg, PeakNet(cfg), _image(), boxes=boxes, return_maps=True)
    for p, box in zip(people, boxes, strict=True):
        assert p.box.tolist() == box
        assert np.abs(p.keypoints - _expected(np.array(box, float), cfg)).max() < 0.05
        assert p.heatmaps_lr.shape == (K, 8, 8) and p.heatmaps_hr.shape == (K, 32, 32)
    cfg = _cfg("model.head.enabled=false")
    (p,) = inference_topdown(cfg, PeakNet(cfg), _image(), boxes=[10, 5, 30, 40], return_maps=True)
    assert p.decoded_from == "lr" and p.heatmaps_lr is not None and p.heatmaps_hr is None  # one (4,) box is fine
    assert inference_topdown(cfg, PeakNet(cfg), _image(), boxes=np.zeros((0, 4))) == []


def test_channel_order_of_arrays_and_files(tmp_path) -> None:
    cv2 = pytest.importorskip("cv2")
    rgb = _image()
    np.testing.assert_array_equal(load_image(rgb), rgb)
    np.testing.assert_array_equal(load_image(rgb[..., ::-1], ChannelOrder.BGR), rgb)
    np.testing.assert_array_equal(load_image(rgb[..., ::-1], "bgr"), rgb)
    path = tmp_path / "red.png"
    cv2.imwrite(str(path), rgb[..., ::-1])  # OpenCV writes BGR
    np.testing.assert_array_equal(load_image(path), rgb)  # files are read as RGB
    cfg = _cfg("data.color_rgb=false")  # a BGR-trained network gets BGR crops (red -> channel 2)
    net = PeakNet(cfg)
    inference_topdown(cfg, net, rgb)
    crop = net.seen[0][0]
    assert crop[2].mean() > crop[0].mean()


@pytest.mark.parametrize("image, words", [
    (np.zeros((10, 10), np.uint8), "(H, W, 3)"),
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    ([[0]], "file path or an (H, W, 3) uint8 array"),
])
def test_bad_images_are_named(image, words) -> None:
    with pytest.raises((ValueError, TypeError), match="image") as info:
        load_image(image)
    assert words in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"missing\.jpg"):
        load_image("missing.jpg")


@pytest.mark.parametrize("boxes, words", [
    ([[0, 0, 10]], "shape (N, 4)"),
    ([[1, 2, 3, 4, 5, 6]], "shape (N, 4)"),  # never silently re-chunked into boxes
    ([[0, 0, -1, 10]], "positive w, h"),
    ([[500, 0, 10, 10]], "outside the image (80x60 pixels)"),
    ([[0, 0, 1e9, 10]], "times the image"),
    ([["a", 0, 1, 1]], "(N, 4) numbers"),
])
def test_bad_boxes_are_refused_before_the_network_runs(boxes, words) -> None:
    cfg = _cfg()
    net = PeakNet(cfg)
    with pytest.raises(ValueError) as info:
        inference_topdown(cfg, net, _image(), boxes=boxes)
    assert words in str(info.value) and net.seen == []
    assert person_boxes(None, 80, 60).tolist() == [[0, 0, 80, 60]]


def test_config_and_weights_arguments(tmp_path) -> None:
    cfg = model_config("synthetic_quick", ["model.num_keypoints=5", "loss.ohkm_topk=4",
                                           "data.flip_pairs=[[1,2],[3,4]]"])
    assert cfg.model.num_keypoints == 5 and model_config(cfg) is cfg
    with pytest.raises(FileNotFoundError, match="did you mean"):
        model_config("synthetic_quik")
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        model_config(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match="overrides"):
        model_config(cfg, ["model.num_keypoints=3"])
    with pytest.raises(ValueError, match=r"\.safetensors weights only.*enhancenet-convert"):
        check_weights_path(tmp_path / "model.pt")
    with pytest.raises(FileNotFoundError, match=r"w\.safetensors"):
        check_weights_path(tmp_path / "w.safetensors")

    class Bare:
        pass

    with pytest.raises(ValueError, match="init_model"):
        config_of(Bare(), None)
    model = Bare()
    model.cfg = cfg  # type: ignore[attr-defined]
    assert config_of(model, None) is cfg


def test_darkpose_models_are_cropped_with_darkpose_affine() -> None:
    # the crop and the decoding use the same convention: a DARKPOSE network's peaks come back at the image points
    # that DarkPose's affine puts at JOINTS
    cfg = _cfg("target.convention=darkpose")
    (p,) = inference_topdown(cfg, PeakNet(cfg), _image(), boxes=[[10, 5, 30, 40]])
    center, scale = box_to_center_scale(np.array([10.0, 5, 30, 40]), 1.0, cfg.data.pixel_std, cfg.data.bbox_scale)
    src_w = scale[0] * cfg.data.pixel_std
    want = center + (JOINTS - 15.5) * (src_w - 1) / 31  # DarkPose: patch centre (W-1)/2 <-> crop centre
    assert np.abs(p.keypoints - want).max() < 0.05
