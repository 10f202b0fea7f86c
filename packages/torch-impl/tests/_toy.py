"""A tiny model and data set following the enhancenet-torch contracts, for fast trainer tests (and
:class:`TinyBase`, a small real base model for the shared synthetic-training test).

The model returns ``{"lr": (N, K, h, w), "hr": (N, K, r*h, r*w), "features": ...}`` like ``PoseModel``; it has
no batch norm, so a DDP run and a single-process run over the same global batch compute the same gradients.
Samples are deterministic functions of their index; the target is a smoothed, downsampled copy of the image,
so there is something to learn.
"""

from __future__ import annotations

import dataclasses
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from enhancenet_core.config import Config, EnhanceNetConfig, ModelConfig, TrainConfig

K, STRIDE, R, SIZE = 3, 4, 2, 16  # keypoints, LR stride, upscale, input side


class ToyPoseModel(nn.Module):
    def __init__(self, k: int = K, r: int = R) -> None:
        super().__init__()
        self.r = r
        self.stem = nn.Conv2d(3, 8, 3, stride=STRIDE, padding=1)
        self.final = nn.Conv2d(8, k, 1)
        self.head = nn.Conv2d(8 + k, k * r * r, 3, padding=1)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        features = F.relu(self.stem(images))
        lr = self.final(features)
        hr = F.pixel_shuffle(self.head(torch.cat([features, lr], 1)), self.r)
        return {"lr": lr, "hr": hr, "features": features}


class ToyDataset(Dataset):
    """``n`` samples; sample ``i`` depends only on ``i`` (and the epoch, through a flip, like augmentation)."""

    def __init__(self, n: int = 12, seed: int = 0, delay: float = 0.0) -> None:
        self.n, self.seed, self.epoch, self.delay = n, seed, 0, delay

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.delay:
            time.sleep(self.delay)  # slow enough to be killed mid-run
        gen = torch.Generator().manual_seed(self.seed * 1000 + index)
        image = torch.rand(3, SIZE, SIZE, generator=gen)
        if (index + self.epoch) % 2:
            image = image.flip(-1)
        base = image[:K].unsqueeze(0)
        target = F.avg_pool2d(base, STRIDE)[0]
        target_hr = F.avg_pool2d(base, STRIDE // R)[0]
        weight = torch.ones(K)
        weight[index % K] = 0.0
        return {"image": image, "target_lr": target, "target_weight_lr": weight, "target_hr": target_hr,
                "target_weight_hr": weight, "meta": {"index": torch.tensor(index)}}


def toy_config(epochs: int = 3, batch_size: int = 4, **train_kw: object) -> Config:
    model = ModelConfig(
        head=EnhanceNetConfig(upscale=R), num_keypoints=K, input_size=(SIZE, SIZE), heatmap_stride=STRIDE
    )
    train = dataclasses.replace(
        TrainConfig(), epochs=epochs, batch_size=batch_size, lr=1e-2, lr_steps=(1,), workers=0, **train_kw
    )
    return Config(model=model, train=train)


def toy_model(cfg: Config) -> nn.Module:
    return ToyPoseModel(cfg.model.num_keypoints, cfg.model.head.upscale)


class TinyBase(nn.Module):
    """(N, 3, 64, 64) -> F^LR (N, 32, 16, 16), M^LR (N, K, 16, 16)."""

    feature_channels = 32

    def __init__(self, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(3, 24, 2), *block(24, 32, 2), *block(32, 48, 2), *block(48, 48, 1),
            nn.ConvTranspose2d(48, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.final = nn.Conv2d(32, num_keypoints, 1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(images)
        return features, self.final(features)


def tiny_model(cfg: Config) -> nn.Module:
    """:class:`TinyBase` wrapped by the real PoseModel with the EnhanceNet head of ``cfg``."""
    from enhancenet_torch.models import attach_enhancenet

    return attach_enhancenet(TinyBase(cfg.model.num_keypoints), cfg.model)
