"""Typed configuration of an EnhanceNet experiment.

Frozen dataclasses, validated once at the edge (:func:`load_config`), so everything below takes typed values.
Field names follow the HRNet code base where one exists (``sigma``, ``flip_pairs``, ``use_target_weight``,
``flip_test``, ``shift_heatmap``, ``post_process``, ``oks_thre``, ``in_vis_thre``).

Sizes are ``(width, height)`` as in HRNet's ``IMAGE_SIZE`` / ``HEATMAP_SIZE``.

NOTE (skeleton): loading, validation and JSON-Schema export are filled in by the config-schema work;
field names and defaults here are the contract other modules rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from enhancenet_core.conventions import (
    BaseModelName,
    CoordinateConvention,
    Decoder,
    HeadInput,
    ShuffleOrder,
    Upsampler,
)

COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))


@dataclass(frozen=True)
class EnhanceNetConfig:
    """The EnhanceNet head (Sec. 3.1). Paper setting: L=3, C=128, r=4, sub-pixel, input F+M."""

    enabled: bool = True
    inputs: HeadInput = HeadInput.BOTH
    num_layers: int = 3  # L, counting the upsampling layer: L-1 regular convs + 1 upsampler
    channels: int = 128  # C, width of the L-1 regular convs
    upscale: int = 4  # r
    first_kernel: int = 1  # kernel of w_1 (1x1: channel reduction)
    kernel: int = 3  # kernel of w_2 .. w_{L-1}
    upsampler: Upsampler = Upsampler.SUBPIXEL
    upsampler_kernel: int = 3  # kernel of the L-th layer: 3 for sub-pixel / bilinear+conv; 3 or 12 for deconv
    shuffle_order: ShuffleOrder = ShuffleOrder.FRAMEWORK  # channel order the last conv's weights are stored in


@dataclass(frozen=True)
class BaseModelConfig:
    """The base pose model that produces (F^LR, M^LR).

    Only the fields of the chosen ``name`` are read: ``depth`` for simple_baseline / cpn (ResNet 18..152),
    ``width`` for hrnet (32 or 48), ``stages`` for hourglass (stacks: 2, 4, 8).
    """

    name: BaseModelName = BaseModelName.SIMPLE_BASELINE
    depth: int = 50
    width: int = 32
    stages: int = 4
    num_deconv_layers: int = 3  # SimpleBaseline
    deconv_channels: int = 256  # SimpleBaseline
    deconv_kernel: int = 4  # SimpleBaseline
    final_conv_kernel: int = 1  # heat-map layer
    hourglass_channels: int = 256  # stacked hourglass feature width
    hourglass_blocks: int = 1  # residual blocks per hourglass stage
    pretrained: str | None = None  # local path to ImageNet weights; never downloaded


@dataclass(frozen=True)
class ModelConfig:
    base: BaseModelConfig = field(default_factory=BaseModelConfig)
    head: EnhanceNetConfig = field(default_factory=EnhanceNetConfig)
    num_keypoints: int = 17  # K
    input_size: tuple[int, int] = (192, 256)  # (width, height) of the input patch
    heatmap_stride: int = 4  # s: input size / LR heat-map size

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(width, height) of M^LR."""
        return (self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride)

    @property
    def hr_heatmap_size(self) -> tuple[int, int]:
        """(width, height) of M^HR = r * size of M^LR."""
        w, h = self.heatmap_size
        return (w * self.head.upscale, h * self.head.upscale)


@dataclass(frozen=True)
class TargetConfig:
    """Gaussian targets: LR with ``sigma``, HR with ``upscale * sigma`` (Eq. 6)."""

    sigma: float = 2.0
    convention: CoordinateConvention = CoordinateConvention.LEGACY


@dataclass(frozen=True)
class LossConfig:
    """L = lr_weight * L^LR + hr_weight * L^HR (Eq. 8, eta = hr_weight = 1)."""

    hr_weight: float = 1.0  # eta
    lr_weight: float = 1.0
    use_target_weight: bool = True
    ohkm: bool = False  # online hard keypoint mining (CPN), applied after EnhanceNet
    ohkm_topk: int = 8


@dataclass(frozen=True)
class AugmentationConfig:
    """HRNet's training augmentation."""

    flip: bool = True
    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    half_body_prob: float = 0.3
    num_joints_half_body: int = 8


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "coco"  # coco | mpii | synthetic
    root: str = ""  # data set root; for synthetic, where it is generated
    train_set: str = "train2017"
    test_set: str = "val2017"
    flip_pairs: tuple[tuple[int, int], ...] = COCO_FLIP_PAIRS
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    color_rgb: bool = True
    pixel_std: float = 200.0
    bbox_scale: float = 1.25  # box -> scale enlargement


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    lr_steps: tuple[int, ...] = (170, 200)
    lr_factor: float = 0.1
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    epochs: int = 210
    batch_size: int = 32  # per process
    seed: int = 0
    workers: int = 4
    amp: bool = True  # used only on CUDA


@dataclass(frozen=True)
class TestConfig:
    flip_test: bool = True
    shift_heatmap: bool = True  # HRNet's flip shift; its size is derived from convention and stride
    post_process: bool = True
    decoder: Decoder = Decoder.ARGMAX_QUARTER
    use_hr: bool = True  # decode M^HR when EnhanceNet is on, else M^LR
    use_gt_bbox: bool = False
    bbox_file: str = ""
    image_thre: float = 0.0
    in_vis_thre: float = 0.2
    oks_thre: float = 0.9
    batch_size: int = 32


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    test: TestConfig = field(default_factory=TestConfig)
