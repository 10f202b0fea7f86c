"""A tiny model and data set following the enhancenet-paddle contracts, for fast trainer tests (and
:class:`TinyBase`, a small real base model for the shared synthetic-training test).

The model returns ``{"lr": (N, K, h, w), "hr": (N, K, r*h, r*w), "features": ...}`` like ``PoseModel``; it has no
batch norm, so a data-parallel run and a single-process run over the same global batch compute the same
gradients. Samples are deterministic functions of ``(index, epoch)``; the target is a downsampled copy of the
image, so there is something to learn.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from enhancenet_core.config import Config, EnhanceNetConfig, ModelConfig, TrainConfig

K, STRIDE, R, SIZE = 3, 4, 2, 16  # keypoints, LR stride, upscale, input side


class ToyPoseModel(nn.Layer):
    def __init__(self, k: int = K, r: int = R) -> None:
        super().__init__()
        self.r = r
        self.stem = nn.Conv2D(3, 8, 3, stride=STRIDE, padding=1)
        self.final = nn.Conv2D(8, k, 1)
        self.head = nn.Conv2D(8 + k, k * r * r, 3, padding=1)

    def forward(self, images: paddle.Tensor) -> dict[str, paddle.Tensor]:
        features = F.relu(self.stem(images))
        lr = self.final(features)
        hr = F.pixel_shuffle(self.head(paddle.concat([features, lr], axis=1)), self.r)
        return {"lr": lr, "hr": hr, "features": features}


def _pool(x: np.ndarray, f: int) -> np.ndarray:
    c, h, w = x.shape
    return x.reshape(c, h // f, f, w // f, f).mean(axis=(2, 4)).astype(np.float32)


class ToyDataset:
    """``n`` samples; sample ``i`` of epoch ``e`` depends only on ``(i, e)`` (a flip, like augmentation)."""

    def __init__(self, n: int = 12, seed: int = 0, delay: float = 0.0) -> None:
        self.n, self.seed, self.delay = n, seed, delay

    def __len__(self) -> int:
        return self.n

    def sample(self, index: int, epoch: int) -> dict[str, object]:
        if self.delay:
            time.sleep(self.delay)  # slow enough to be killed mid-run
        image = np.random.default_rng(self.seed * 1000 + index).random((3, SIZE, SIZE), dtype=np.float32)
        if (index + epoch) % 2:
            image = np.ascontiguousarray(image[..., ::-1])
        weight = np.ones(K, dtype=np.float32)
        weight[index % K] = 0.0
        return {"image": image, "target_lr": _pool(image[:K], STRIDE), "target_weight_lr": weight,
                "target_hr": _pool(image[:K], STRIDE // R), "target_weight_hr": weight,
                "meta": {"index": np.int64(index)}}

    def __getitem__(self, index: int) -> dict[str, object]:
        return self.sample(index, 0)


def toy_config(epochs: int = 3, batch_size: int = 4, **train_kw: object) -> Config:
    model = ModelConfig(
        head=EnhanceNetConfig(upscale=R), num_keypoints=K, input_size=(SIZE, SIZE), heatmap_stride=STRIDE
    )
    train = dataclasses.replace(
        TrainConfig(), epochs=epochs, batch_size=batch_size, lr=1e-2, lr_steps=(1,), workers=0, **train_kw
    )
    return Config(model=model, train=train)


def toy_model(cfg: Config) -> nn.Layer:
    return ToyPoseModel(cfg.model.num_keypoints, cfg.model.head.upscale)


class TinyBase(nn.Layer):
    """(N, 3, 64, 64) -> F^LR (N, 32, 16, 16), M^LR (N, K, 16, 16)."""

    feature_channels = 32

    def __init__(self, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints

        def block(cin: int, cout: int, stride: int) -> list[nn.Layer]:
            return [nn.Conv2D(cin, cout, 3, stride, 1, bias_attr=False), nn.BatchNorm2D(cout), nn.ReLU()]

        self.body = nn.Sequential(
            *block(3, 24, 2), *block(24, 32, 2), *block(32, 48, 2), *block(48, 48, 1),
            nn.Conv2DTranspose(48, 32, 4, 2, 1, bias_attr=False), nn.BatchNorm2D(32), nn.ReLU(),
        )  # fmt: skip
        self.final = nn.Conv2D(32, num_keypoints, 1)

    def forward(self, images):
        features = self.body(images)
        return features, self.final(features)


def tiny_model(cfg: Config) -> nn.Layer:
    """:class:`TinyBase` (PyTorch's default initialisation) wrapped by the real PoseModel with the EnhanceNet
    head of ``cfg``."""
    from enhancenet_paddle.models import attach_enhancenet
    from enhancenet_paddle.models.resnet import init_torch_default_

    base = TinyBase(cfg.model.num_keypoints)
    init_torch_default_(base)  # PyTorch's default initialisation, as the torch twin of this test
    for m in base.sublayers():
        if isinstance(m, nn.Conv2DTranspose):  # torch: U(±1/sqrt(fan_in)), fan_in from weight.shape[1]
            bound = 1.0 / float(np.sqrt(m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]))
            nn.initializer.Uniform(-bound, bound)(m.weight)
    return attach_enhancenet(base, cfg.model)
