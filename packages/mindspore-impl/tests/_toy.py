"""A tiny model and data set with the enhancenet-mindspore contracts, for fast trainer tests.

The model returns ``{"lr": (N, K, h, w), "hr": (N, K, r*h, r*w), "features": ...}`` like ``PoseModel``. Samples
are deterministic functions of their index (and, through a flip, of the epoch, like augmentation); the target is a
smoothed, downsampled copy of the image, so there is something to learn.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from mindspore import nn, ops

from enhancenet_core.config import Config, EnhanceNetConfig, ModelConfig, TrainConfig

K, STRIDE, R, SIZE = 3, 4, 2, 16  # keypoints, LR stride, upscale, input side


class ToyPoseModel(nn.Cell):
    def __init__(self, k: int = K, r: int = R) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=STRIDE, pad_mode="pad", padding=1, has_bias=True)
        self.final = nn.Conv2d(8, k, 1, has_bias=True)
        self.head = nn.Conv2d(8 + k, k * r * r, 3, pad_mode="pad", padding=1, has_bias=True)
        self.shuffle = nn.PixelShuffle(r)
        self.relu = nn.ReLU()

    def construct(self, images):
        features = self.relu(self.stem(images))
        lr = self.final(features)
        hr = self.shuffle(self.head(ops.cat((features, lr), 1)))
        return {"lr": lr, "hr": hr, "features": features}


def _pool(x: np.ndarray, s: int) -> np.ndarray:
    c, h, w = x.shape
    return x.reshape(c, h // s, s, w // s, s).mean(axis=(2, 4))


class ToyDataset:
    """``n`` samples; sample ``i`` depends only on ``i`` and the epoch."""

    def __init__(self, n: int = 12, seed: int = 0, delay: float = 0.0) -> None:
        self.n, self.seed, self.epoch, self.delay = n, seed, 0, delay

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        if self.delay:
            time.sleep(self.delay)  # slow enough to be killed mid-run
        image = np.random.default_rng([self.seed, index]).random((3, SIZE, SIZE), dtype=np.float32)
        if (index + self.epoch) % 2:
            image = image[..., ::-1].copy()
        base = image[:K]
        weight = np.ones(K, dtype=np.float32)
        weight[index % K] = 0.0
        return {"image": image, "target_lr": _pool(base, STRIDE), "target_weight_lr": weight,
                "target_hr": _pool(base, STRIDE // R), "target_weight_hr": weight.copy(),
                "meta": {"index": index}}


def toy_config(epochs: int = 3, batch_size: int = 4, **train_kw: object) -> Config:
    model = ModelConfig(
        head=EnhanceNetConfig(upscale=R), num_keypoints=K, input_size=(SIZE, SIZE), heatmap_stride=STRIDE
    )
    train = dataclasses.replace(
        TrainConfig(), epochs=epochs, batch_size=batch_size, lr=1e-2, lr_steps=(1,), workers=0, **train_kw
    )
    return Config(model=model, train=train)


def toy_model(cfg: Config) -> nn.Cell:
    return ToyPoseModel(cfg.model.num_keypoints, cfg.model.head.upscale)


class TinyBase(nn.Cell):
    """A small convolutional base model, (N, 3, 64, 64) -> F^LR (N, 32, 16, 16), M^LR (N, K, 16, 16) (~0.1 M
    parameters, batch norm included), to wrap with the real EnhanceNet head by ``attach_enhancenet``."""

    feature_channels = 32

    def __init__(self, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints

        def block(cin: int, cout: int, stride: int) -> list[nn.Cell]:
            return [nn.Conv2d(cin, cout, 3, stride, pad_mode="pad", padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

        self.body = nn.SequentialCell(
            *block(3, 24, 2), *block(24, 32, 2), *block(32, 48, 2), *block(48, 48, 1),
            nn.Conv2dTranspose(48, 32, 4, 2, pad_mode="pad", padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        )  # fmt: skip
        self.final = nn.Conv2d(32, num_keypoints, 1, has_bias=True)

    def construct(self, images):
        features = self.body(images)
        return features, self.final(features)


def tiny_model(cfg: Config) -> nn.Cell:
    from enhancenet_mindspore.models import attach_enhancenet

    return attach_enhancenet(TinyBase(cfg.model.num_keypoints), cfg.model)
